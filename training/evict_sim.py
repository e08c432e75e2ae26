"""Diagnosis of the trace model under Lethe (numpy only, CPU): decodes held-out problems greedily with the
engine's arithmetic and Lethe's scoring and selection (DESIGN §5) in a simple re-implementation, and reports
what each layer had evicted when the first wrong character came out.

    python3 training/evict_sim.py --model models/lethe-trace.gguf --test training/data/trace-test.txt \
        --problems 4 --tau 5 --recent 0.3 --delta 64 [--keep-prompt]

It is a diagnostic, not the benchmark: `./lethe bench-quality --task trace` runs the real policies in the
engine. --keep-prompt protects the whole prompt from eviction (a what-if, not a policy).
"""

import argparse

import numpy as np

import charvocab
import tasks
from gguf_export import read as read_gguf


class Model:
    def __init__(self, path):
        meta, t = read_gguf(path)
        self.layers = meta["llama.block_count"]
        self.heads = meta["llama.attention.head_count"]
        self.dim = meta["llama.embedding_length"]
        self.hd = self.dim // self.heads
        self.eps = meta["llama.attention.layer_norm_rms_epsilon"]
        self.t = {k: v.astype(np.float64) for k, v in t.items()}
        theta = meta["llama.rope.freq_base"]
        self.inv = np.array([theta ** (-2.0 * i / self.hd) for i in range(self.hd // 2)])

    def norm(self, x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + self.eps) * w

    def rope(self, x, pos):
        """x: [H, hd] at position pos, adjacent pairs rotated."""
        a = pos * self.inv
        c, s = np.cos(a), np.sin(a)
        x0, x1 = x[:, 0::2], x[:, 1::2]
        out = np.empty_like(x)
        out[:, 0::2] = x0 * c - x1 * s
        out[:, 1::2] = x0 * s + x1 * c
        return out


class Run:
    """One sequence: full K/V per layer plus a keep mask per layer (evicted entries stay stored, masked)."""

    def __init__(self, model, policy):
        self.m = model
        self.p = policy
        L = model.layers
        self.K = np.zeros((L, 4096, model.heads, model.hd))
        self.V = np.zeros((L, 4096, model.heads, model.hd))
        self.keep = [np.zeros(0, dtype=bool) for _ in range(L)]
        self.score = [np.zeros(0) for _ in range(L)]
        self.n = 0

    def step(self, tokens):
        """Feeds a chunk of tokens (one engine step), returns the logits after the last one."""
        m, t = self.m, self.m.t
        L, H, hd = m.layers, m.heads, m.hd
        x = t["token_embd.weight"][tokens]
        start = self.n
        for l in range(L):
            pre = f"blk.{l}."
            h = m.norm(x, t[pre + "attn_norm.weight"])
            q = h @ t[pre + "attn_q.weight"].T
            k = h @ t[pre + "attn_k.weight"].T
            v = h @ t[pre + "attn_v.weight"].T
            for i in range(len(tokens)):
                self.K[l, start + i] = m.rope(k[i].reshape(H, hd), start + i)
                self.V[l, start + i] = v[i].reshape(H, hd)
            self.keep[l] = np.concatenate([self.keep[l], np.ones(len(tokens), dtype=bool)])
            self.score[l] = np.concatenate([self.score[l], np.zeros(len(tokens))])
            idx = np.nonzero(self.keep[l])[0]
            Kk = self.K[l, idx]  # [n, H, hd]
            Vk = self.V[l, idx]
            out = np.zeros((len(tokens), m.dim))
            relevance = np.zeros(len(idx))
            for i in range(len(tokens)):
                qi = m.rope(q[i].reshape(H, hd), start + i)
                visible = idx <= start + i
                s = np.einsum("hd,nhd->hn", qi, Kk[visible]) / np.sqrt(hd)
                s = np.exp(s - s.max(-1, keepdims=True))
                p = s / s.sum(-1, keepdims=True)
                relevance[visible] += p.sum(0)
                out[i] = np.einsum("hn,nhd->hd", p, Vk[visible]).reshape(-1)
            self.score[l][idx] = self.p.gamma * self.score[l][idx] + relevance
            x = x + out @ t[pre + "attn_output.weight"].T
            h = m.norm(x, t[pre + "ffn_norm.weight"])
            g = h @ t[pre + "ffn_gate.weight"].T
            x = x + ((g / (1 + np.exp(-g))) * (h @ t[pre + "ffn_up.weight"].T)) @ t[pre + "ffn_down.weight"].T
        self.n += len(tokens)
        for l in range(L):
            self.p.select(l, self)
        return m.norm(x[-1], t["output_norm.weight"]) @ t["output.weight"].T


class Lethe:
    """DESIGN §5 steps 3-5 on one sequence; protect_prompt keeps the whole prompt (a what-if)."""

    def __init__(self, layers, prompt_len, tau, recent, delta, gamma, sinks=4, segments=16, protect_prompt=False):
        self.T = [prompt_len + delta] * layers
        self.prompt_len, self.tau, self.recent, self.delta = prompt_len, tau, recent, delta
        self.gamma, self.sinks, self.segments, self.protect_prompt = gamma, sinks, segments, protect_prompt

    def select(self, l, run):
        idx = np.nonzero(run.keep[l])[0]
        n = len(idx)
        if n <= self.T[l]:
            return
        s = min(self.sinks, n)
        if self.protect_prompt:
            s = max(s, int(np.sum(idx < self.prompt_len)))
        r = min(int(np.ceil(self.recent * n - 1e-9)), n - s)
        m = n - s - r
        if m > 0:
            cand = idx[s:s + m]
            sc = run.score[l][cand]
            order = np.argsort(-sc, kind="stable")
            top = sc[order[0]]
            if top > 0:
                for i in range(1, self.segments):
                    k = i * m // self.segments
                    if k >= 1 and sc[order[k]] <= top / self.tau:
                        run.keep[l][cand[order[k:]]] = False
                        self.T[l] = n - (m - k) + self.delta
                        return
        self.T[l] *= 2


class Full:
    gamma = 0.95

    def select(self, l, run):
        pass


def label(prompt, pos):
    """Category of absolute position pos (0 = BOS)."""
    if pos == 0:
        return "bos"
    if pos <= len(prompt):
        line = prompt[:pos].count("\n")
        text = prompt.split("\n")[line]
        return "prompt-body" if (":=" in text or text.startswith("repeat") or text == "}") else "prompt-const"
    return "solution"


def solve(model, prob, policy, report):
    prompt, solution, answer = prob
    ids = charvocab.encode(prompt)
    ref = charvocab.encode(solution, bos=False) + [charvocab.EOS]
    run = Run(model, policy)
    logits = None
    for s in range(0, len(ids), 16):
        logits = run.step(ids[s:s + 16])
    out = []
    first_wrong = None
    for i in range(len(ref) + 64):
        tok = int(np.argmax(logits))
        if first_wrong is None and (i >= len(ref) or tok != ref[i]):
            first_wrong = i
            report(run, prompt, out, tok, ref, i)
            break
        if tok == charvocab.EOS:
            break
        out.append(tok)
        logits = run.step([tok])
    retained = np.mean([run.keep[l].mean() for l in range(model.layers)])
    return first_wrong, len(ref), retained


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/lethe-trace.gguf")
    ap.add_argument("--test", default="training/data/trace-test.txt")
    ap.add_argument("--problems", type=int, default=3)
    ap.add_argument("--skip", type=int, default=0)
    ap.add_argument("--tau", type=float, default=5)
    ap.add_argument("--recent", type=float, default=0.3)
    ap.add_argument("--delta", type=int, default=64)
    ap.add_argument("--gamma", type=float, default=0.95)
    ap.add_argument("--keep-prompt", action="store_true")
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args()
    model = Model(args.model)
    probs = [p for p in tasks.read_problems(args.test) if len(p[1]) > 1000][args.skip:args.skip + args.problems]

    def report(run, prompt, out, tok, ref, i):
        text = charvocab.decode(out)
        print(f"  first wrong char at solution position {i}: wrote {charvocab.decode([tok])!r} for "
              f"{charvocab.decode([ref[i]]) if i < len(ref) else 'EOS'!r}; last line: {text.split(chr(10))[-1]!r}")
        for l in range(model.layers):
            keep = run.keep[l]
            counts = {}
            for pos in range(len(keep)):
                c = label(prompt, pos)
                kept, total = counts.get(c, (0, 0))
                counts[c] = (kept + int(keep[pos]), total + 1)
            lost = "".join(prompt[pos - 1] if keep[pos] else "_" for pos in range(1, len(prompt) + 1)).replace("\n", "|")
            print(f"  layer {l}: kept {keep.sum()}/{len(keep)}; " +
                  ", ".join(f"{c} {k}/{t}" for c, (k, t) in counts.items()) + f"; prompt kept: {lost}")

    for j, prob in enumerate(probs):
        n_prompt = len(charvocab.encode(prob[0]))
        policy = Full() if args.full else Lethe(model.layers, n_prompt, args.tau, args.recent, args.delta, args.gamma,
                                                 protect_prompt=args.keep_prompt)
        print(f"problem {j + args.skip}: prompt {n_prompt} tokens, solution {len(prob[1])} chars", flush=True)
        fw, n, retained = solve(model, prob, policy, report)
        print(f"  -> first wrong at {fw} of {n}; retained at that point {retained:.2f}", flush=True)


if __name__ == "__main__":
    main()
