"""Trains the trace model (a small Llama, character-level) on freshly generated problems, then checks it on the
held-out set, exports it to GGUF and records a greedy reference run for the Java engine to reproduce.

    python3 training/train.py --test training/data/trace-test.txt --out OUTDIR [--train-seconds 300]

Training runs for a fixed wall-clock budget (the learning rate follows the elapsed fraction of it), so the
step count depends on the machine; the log says how many steps ran. Writes to OUTDIR: trace.gguf, weights.npz,
config.json, reference.json (greedy output and logits of a held-out problem, in float32), eval.json.

With --evict P, a fraction P of the training rows see a randomly pruned cache (eviction_masks() below), so that
the model learns not to depend on keys that a KV-cache policy may have dropped.
"""

import argparse
import collections
import json
import math
import multiprocessing as mp
import os
import random
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import charvocab
import gguf_export
import tasks

CONFIG = dict(name="lethe-trace", dim=192, layers=6, heads=6, ffn=512, context=4096, eps=1e-5, rope_theta=10000.0)
TABLE = np.array(charvocab.byte_table(), dtype=np.int16)


# ---------------------------------------------------------------- model: what the engine's `llama` arch computes

def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + eps).to(x.dtype) * weight


def rope_tables(head_dim, context, theta):
    """cos, sin of position * theta^(-2i/head_dim) for pair i, computed in double like the engine."""
    inv = torch.tensor([theta ** (-2.0 * i / head_dim) for i in range(head_dim // 2)], dtype=torch.float64)
    angles = torch.arange(context, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cos(angles).float(), torch.sin(angles).float()


def rotate(x, cos, sin):
    """Adjacent-pair RoPE: dims (2i, 2i+1) of each head rotate together. x: [B, T, H, hd]. In float32 even
    under bf16 autocast, since bf16 angles would blur far positions."""
    pairs = x.float().unflatten(-1, (-1, 2))
    x0, x1 = pairs[..., 0], pairs[..., 1]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2).to(x.dtype)


def attention(q, k, v, visible=None):
    """Causal attention; visible ([B, 1, T, T] bool, True = the query sees the key) replaces the causal mask."""
    if hasattr(F, "scaled_dot_product_attention"):
        if visible is None:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=visible)
    # PyTorch 1.x (CPU smoke tests): the same softmax attention, spelled out.
    t = q.shape[-2]
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if visible is None:
        visible = torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
    return scores.masked_fill(~visible, float("-inf")).softmax(-1) @ v


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, f = c["dim"], c["ffn"]
        self.heads, self.eps = c["heads"], c["eps"]
        self.attn_norm = nn.Parameter(torch.ones(d))
        self.wq, self.wk, self.wv, self.wo = (nn.Linear(d, d, bias=False) for _ in range(4))
        self.ffn_norm = nn.Parameter(torch.ones(d))
        self.w_gate, self.w_up = nn.Linear(d, f, bias=False), nn.Linear(d, f, bias=False)
        self.w_down = nn.Linear(f, d, bias=False)

    def forward(self, x, cos, sin, visible=None):
        b, t, d = x.shape
        h = rms_norm(x, self.attn_norm, self.eps)
        q = rotate(self.wq(h).view(b, t, self.heads, -1), cos, sin)
        k = rotate(self.wk(h).view(b, t, self.heads, -1), cos, sin)
        v = self.wv(h).view(b, t, self.heads, -1)
        a = attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), visible)
        x = x + self.wo(a.transpose(1, 2).reshape(b, t, d))
        h = rms_norm(x, self.ffn_norm, self.eps)
        return x + self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))


class TraceModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(charvocab.SIZE, c["dim"])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["layers"]))
        self.norm = nn.Parameter(torch.ones(c["dim"]))
        self.output = nn.Linear(c["dim"], charvocab.SIZE, bias=False)
        cos, sin = rope_tables(c["dim"] // c["heads"], c["context"], c["rope_theta"])
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                # Residual-branch outputs start smaller so the stream's scale does not grow with depth.
                std = 0.02 / math.sqrt(2 * c["layers"]) if name.endswith(("wo.weight", "w_down.weight")) else 0.02
                nn.init.normal_(p, std=std)

    def forward(self, ids, visible=None):
        """visible: None (causal attention) or one [B, 1, T, T] mask per layer (see eviction_masks())."""
        t = ids.shape[1]
        x = self.embed(ids)
        for l, layer in enumerate(self.layers):
            x = layer(x, self.cos[:t], self.sin[:t], None if visible is None else visible[l])
        return self.output(rms_norm(x, self.norm, self.c["eps"]))

    def load_numpy_weights(self, weights):
        own = self.numpy_weights()
        if own.keys() != weights.keys() or any(own[k].shape != weights[k].shape for k in own):
            raise ValueError("the --init weights do not fit this model's configuration")
        named = dict(self.named_parameters())
        with torch.no_grad():
            for key, value in weights.items():
                named[self._parameter_name(key)].copy_(torch.from_numpy(value))

    @staticmethod
    def _parameter_name(key):
        """numpy_weights() key -> parameter name: matrices of the layers are Linear modules' weights."""
        if key in ("embed", "output"):
            return key + ".weight"
        if key.startswith("layers.") and not key.endswith("norm"):
            return key + ".weight"
        return key

    def numpy_weights(self):
        """The weights under the keys gguf_export.tensor_names() expects, as float32 [rows, cols] arrays."""
        out = {"embed": self.embed.weight, "norm": self.norm, "output": self.output.weight}
        for l, layer in enumerate(self.layers):
            for key in ["attn_norm", "ffn_norm"]:
                out[f"layers.{l}.{key}"] = getattr(layer, key)
            for key in ["wq", "wk", "wv", "wo", "w_gate", "w_up", "w_down"]:
                out[f"layers.{l}.{key}"] = getattr(layer, key).weight
        return {k: v.detach().float().cpu().numpy() for k, v in out.items()}


# ---------------------------------------------------------------- pruned-cache training

SINKS = 4  # the first positions (BOS and three more) are never evicted, as every policy here keeps sinks


def eviction_masks(prompt_lens, t, layers, fraction, generator, device):
    """One attention mask per layer ([B, 1, T, T] bool, True = visible) that imitates a pruned KV cache.

    A row is pruned with probability `fraction`; each of its layers then gets its own mask, like the
    per-layer budgets of Lethe: a key stays visible while it is among the last W positions (W uniform in 24..256 per row and
    layer); after that it is evicted with probability p (uniform in 0.3..1 per row and layer) at a random
    time, an exponential lifetime of mean λ (log-uniform in 1..1024) past the window, and stays evicted.
    Sinks never go; the prompt (positions 0..prompt length) is spared as a whole in half the pruned rows and
    pruned like the solution in the other half, so the model learns to read the loop from the latest
    iteration when the prompt is gone. Unpruned rows see the plain causal mask."""
    b = len(prompt_lens)
    pos = torch.arange(t, device=device)
    prompt_end = torch.as_tensor(prompt_lens, device=device)[:, None] + 1  # BOS + prompt
    pruned = torch.rand(b, 1, generator=generator, device=device) < fraction
    query, key = pos[:, None], pos[None, :]
    causal = key <= query
    u = lambda *shape: torch.rand(*shape, generator=generator, device=device)
    masks = []
    for _ in range(layers):
        window = (24 + u(b, 1) * 233).long()
        p = 0.3 + 0.7 * u(b, 1)
        mean_life = torch.exp(u(b, 1) * math.log(1024))
        life = (-torch.log1p(-u(b, t)) * mean_life).long()
        spare_prompt = u(b, 1) < 0.5
        evicted = (u(b, t) < p) & pruned & (pos[None, :] >= SINKS) & ~(spare_prompt & (pos[None, :] < prompt_end))
        death = torch.where(evicted, pos[None, :] + window + life, torch.full_like(life, 1 << 30))  # [B, T]
        recent = (query - key)[None] < window[:, :, None]
        alive = query[None] < death[:, None, :]
        masks.append((causal[None] & (recent | alive))[:, None])
    return masks


def prompt_lengths(loss_mask):
    """Per row of a batch: the prompt's length, the position of the first target (see pack())."""
    return loss_mask.to(torch.uint8).argmax(1)


# ---------------------------------------------------------------- data

def encode_problem(prompt, solution):
    """[BOS] prompt solution [EOS] as int16 ids (the texts are ASCII) and the prompt's length."""
    body = TABLE[np.frombuffer((prompt + solution).encode("ascii"), dtype=np.uint8)]
    return np.concatenate(([charvocab.BOS], body, [charvocab.EOS])).astype(np.int16), len(prompt)


def pack(problems, tokens_per_batch):
    """Problems sorted by length into padded batches of at most tokens_per_batch tokens (one row each)."""
    encoded = sorted((encode_problem(p, s) for p, s in problems), key=lambda e: len(e[0]))
    batches, i = [], 0
    while i < len(encoded):
        j = i + 1
        while j < len(encoded) and (j - i + 1) * len(encoded[j][0]) <= tokens_per_batch:
            j += 1
        rows = encoded[i:j]
        width = len(rows[-1][0])
        ids = np.full((len(rows), width), charvocab.EOS, dtype=np.int16)
        mask = np.zeros((len(rows), width - 1), dtype=bool)
        for r, (seq, prompt_len) in enumerate(rows):
            ids[r, :len(seq)] = seq
            mask[r, prompt_len:len(seq) - 1] = True  # targets: the solution's characters and EOS
        batches.append((ids, mask))
        i = j
    return batches


_EXCLUDED = frozenset()
_COUNTDOWN = True


def _init_worker(excluded, countdown):
    global _EXCLUDED, _COUNTDOWN
    _EXCLUDED, _COUNTDOWN = excluded, countdown


def generate_job(job):
    """Worker: a pool of fresh training problems (never a held-out prompt), packed into batches."""
    seed, count, tokens_per_batch = job
    rng = random.Random(seed)
    problems = []
    while len(problems) < count:
        prompt, solution, _ = tasks.trace_problem(rng, countdown=_COUNTDOWN)
        if prompt not in _EXCLUDED:
            problems.append((prompt, solution))
    return pack(problems, tokens_per_batch)


def read_test(path):
    return [dict(prompt=p, solution=s, answer=a) for p, s, a in tasks.read_problems(path)]


# ---------------------------------------------------------------- evaluation

@torch.no_grad()
def teacher_forced(model, problems, device, tokens_per_batch=65536, evict=0.0, seed=0):
    """Per problem: whether the argmax at every solution position is the reference character. If so, greedy
    decoding reproduces the reference solution exactly (each greedy step sees the reference prefix). With
    evict > 0, under the random pruned-cache masks of training (fixed seed): a robustness check."""
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    length = lambda i: len(problems[i]["prompt"]) + len(problems[i]["solution"]) + 2
    order = sorted(range(len(problems)), key=length)
    exact = [False] * len(problems)
    i = 0
    while i < len(order):
        j = i + 1
        while j < len(order) and (j - i + 1) * length(order[j]) <= tokens_per_batch:
            j += 1
        index = order[i:j]  # already sorted by length, so pack() keeps this order
        ids, mask = pack([(problems[k]["prompt"], problems[k]["solution"]) for k in index], 1 << 40)[0]
        x = torch.from_numpy(ids).long().to(device)
        visible = None
        if evict > 0:
            visible = eviction_masks(prompt_lengths(torch.from_numpy(mask)), x.shape[1] - 1, len(model.layers), evict,
                                     generator, device)
        wrong = (model(x[:, :-1], visible).argmax(-1) != x[:, 1:]) & torch.from_numpy(mask).to(device)
        for r, k in enumerate(index):
            exact[k] = not bool(wrong[r].any())
        i = j
    return exact


@torch.no_grad()
def greedy(model, prompt_ids, max_new, device):
    """Plain greedy decoding, recomputing the whole prefix each step (no cache to get wrong)."""
    ids = list(prompt_ids)
    first_logits = None
    for _ in range(max_new):
        logits = model(torch.tensor([ids], device=device))[0, -1].float()
        if first_logits is None:
            first_logits = logits.cpu().tolist()
        nxt = int(logits.argmax())
        ids.append(nxt)
        if nxt == charvocab.EOS:
            break
    return ids[len(prompt_ids):], first_logits


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--test", required=True, help="held-out problems (written by tasks.py)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--train-seconds", type=float, default=300)
    ap.add_argument("--tokens-per-batch", type=int, default=131072)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=max(1, min(12, (os.cpu_count() or 2) - 2)))
    ap.add_argument("--marker", choices=["down", "up"], default="down", help="iteration markers of the training data")
    ap.add_argument("--init", help="start from these weights (weights.npz of an earlier run, or a GGUF file this "
                                   "tool exported) instead of random ones")
    ap.add_argument("--evict", type=float, default=0.0,
                    help="fraction of training rows that see a randomly pruned cache (eviction_masks())")
    ap.add_argument("--evict-from", type=float, default=0.0,
                    help="fraction of the training time after which --evict applies (before it every row is causal): "
                         "the model first learns the task on whole caches, then to cope with pruned ones, in one run")
    ap.add_argument("--small", action="store_true", help="a tiny model, for a CPU smoke test of the pipeline")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    config = dict(CONFIG)
    if args.small:
        config.update(dim=32, layers=2, heads=2, ffn=64)
    test = read_test(args.test)
    excluded = frozenset(p["prompt"] for p in test)
    # The data workers fork before CUDA starts in this process.
    pool = mp.get_context("fork").Pool(args.workers, initializer=_init_worker, initargs=(excluded, args.marker == "down"))
    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    model = TraceModel(config)
    if args.init:
        weights = gguf_export.weights_of(args.init) if args.init.endswith(".gguf") else dict(np.load(args.init))
        model.load_numpy_weights(weights)
    model = model.to(device)
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {params / 1e6:.2f}M parameters, config {config}, torch {torch.__version__}, device "
          f"{torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}", flush=True)

    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), **({"fused": True} if device == "cuda" else {}))
    shuffle = random.Random(args.seed)
    # Jobs are handed out a few ahead of need, in order, so the data depends only on the seed.
    next_job = 0
    pending = collections.deque()

    def next_batches():
        nonlocal next_job
        while len(pending) < 2 * args.workers:
            pending.append(pool.apply_async(generate_job, ((args.seed * 1_000_003 + next_job, 1024, args.tokens_per_batch),)))
            next_job += 1
        return pending.popleft().get()

    buffer = []

    generator = torch.Generator(device=device)
    generator.manual_seed(args.seed)
    step, tokens, start = 0, 0, time.time()
    loss_sum = torch.zeros((), device=device)
    evicting = False
    model.train()
    try:
        while (elapsed := time.time() - start) < args.train_seconds:
            if not buffer:
                buffer = next_batches() + next_batches()
                shuffle.shuffle(buffer)
            ids, mask = buffer.pop()
            x = torch.from_numpy(ids).to(device, non_blocking=True).long()
            m = torch.from_numpy(mask).to(device, non_blocking=True)
            frac = elapsed / args.train_seconds
            lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
            for g in opt.param_groups:
                g["lr"] = lr
            visible = None
            if args.evict > 0 and frac >= args.evict_from:
                if not evicting:
                    print(f"step {step} {elapsed:.0f}s: from here {args.evict:.0%} of the rows see a pruned cache", flush=True)
                    evicting = True
                visible = eviction_masks(prompt_lengths(m), x.shape[1] - 1, len(model.layers), args.evict, generator, device)
            with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda"):
                logits = model(x[:, :-1], visible)
            loss_all = F.cross_entropy(logits.float().flatten(0, 1), x[:, 1:].flatten(), reduction="none")
            loss = (loss_all * m.flatten()).sum() / m.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            tokens += ids.size
            loss_sum += loss.detach()
            if step % 250 == 0:
                print(f"step {step} {elapsed:.0f}s loss {loss_sum.item() / 250:.5f} lr {lr:.2e} "
                      f"{tokens / 1e6:.0f}M tokens {tokens / elapsed / 1e3:.0f}k tok/s", flush=True)
                loss_sum.zero_()
    except Exception as e:  # keep what was trained so far: it is exported and evaluated below
        print(f"training stopped at step {step}: {e!r}", flush=True)
    pool.terminate()
    train_time = time.time() - start
    print(f"trained {step} steps, {tokens / 1e6:.0f}M tokens (padded) in {train_time:.0f}s", flush=True)

    model.eval().float()
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # true float32 from here on, as the engine computes
    weights = model.numpy_weights()
    np.savez(os.path.join(args.out, "weights.npz"), **weights)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f)
    gguf_export.write(os.path.join(args.out, "trace.gguf"), weights, config)

    exact = teacher_forced(model, test, device)
    long_ = [e for e, p in zip(exact, test) if len(p["solution"]) > 1000]
    result = dict(steps=step, tokens=tokens, train_seconds=train_time, parameters=params,
                  exact_all=sum(exact) / len(exact), n_all=len(exact),
                  exact_long=sum(long_) / max(1, len(long_)), n_long=len(long_),
                  wrong=[i for i, e in enumerate(exact) if not e])
    # Every row pruned at random (seed 7): how well the model copes with a cache it was not shown whole.
    pruned = teacher_forced(model, test, device, evict=1.0, seed=7)
    result.update(exact_all_pruned=sum(pruned) / len(pruned),
                  exact_long_pruned=sum(e for e, p in zip(pruned, test) if len(p["solution"]) > 1000) / max(1, len(long_)))
    print("held-out teacher-forced exact solutions:", json.dumps(result), flush=True)
    with open(os.path.join(args.out, "eval.json"), "w") as f:
        json.dump(result, f)

    # Greedy reference for the Java engine: the first held-out problem with a solution of 400..900 characters.
    ref_index = next(i for i, p in enumerate(test) if 400 <= len(p["solution"]) <= 900)
    ref = test[ref_index]
    prompt_ids = charvocab.encode(ref["prompt"])
    out_ids, first_logits = greedy(model, prompt_ids, len(ref["solution"]) + 32, device)
    reference = dict(index=ref_index, prompt=ref["prompt"], prompt_ids=prompt_ids, greedy_ids=out_ids,
                     greedy_text=charvocab.decode(out_ids), first_logits=first_logits,
                     matches_solution=charvocab.decode(out_ids) == ref["solution"])
    print(f"greedy reference on held-out problem {ref_index}: {len(out_ids)} tokens, "
          f"equals the reference solution: {reference['matches_solution']}", flush=True)
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(reference, f)
    print("wrote", sorted(os.listdir(args.out)), flush=True)


if __name__ == "__main__":
    main()
