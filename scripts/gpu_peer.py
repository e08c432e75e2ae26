"""The PyTorch peer of GpuBench and GpuBatchBench: transformers' LlamaForCausalLM with random BF16 weights in the
same Llama-3-8B shape, greedy decoding with a static cache, at each batch size given. Prints prefill time and
decode tok/s (all sequences together) for eager mode and for torch.compile; each variant is warmed at its exact
shapes first, so compilation is not timed."""
import argparse
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

p = argparse.ArgumentParser()
p.add_argument("--prompt", type=int, default=512)
p.add_argument("--tokens", type=int, default=256)
p.add_argument("--layers", type=int, default=32)
p.add_argument("--batches", default="1")
p.add_argument("--variants", default="eager,compiled")
a = p.parse_args()

config = LlamaConfig(hidden_size=4096, intermediate_size=14336, num_hidden_layers=a.layers, num_attention_heads=32,
                     num_key_value_heads=8, head_dim=128, vocab_size=128256, max_position_embeddings=8192,
                     rope_theta=500000.0, rms_norm_eps=1e-5, tie_word_embeddings=False)
torch.manual_seed(0)
torch.set_default_dtype(torch.bfloat16)
with torch.device("cuda"):
    model = LlamaForCausalLM(config).eval()
params = sum(t.numel() for t in model.parameters())
print(f"torch {torch.__version__}, {params / 1e9:.2f} B parameters, prompt {a.prompt}, {a.tokens} generated")


def generate(ids, n, compiled):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, min_new_tokens=n, do_sample=False,
                             cache_implementation="static", disable_compile=not compiled, pad_token_id=0)
    torch.cuda.synchronize()
    return time.perf_counter() - t0, out.shape[1] - a.prompt


rows = []
for batch in (int(b) for b in a.batches.split(",")):
    ids = torch.randint(0, config.vocab_size, (batch, a.prompt), device="cuda")
    for variant in a.variants.split(","):
        compiled = variant == "compiled"
        t0 = time.perf_counter()
        generate(ids, 1, compiled)  # warm-up at both shapes: compilation, cache allocation
        generate(ids, a.tokens, compiled)
        warm = time.perf_counter() - t0
        prefill, _ = generate(ids, 1, compiled)
        total, made = generate(ids, a.tokens, compiled)
        decode = (made - 1) * batch / (total - prefill)
        rows.append((batch, variant, prefill, made - 1, decode, warm))
        print(f"batch {batch:3d} {variant:9s}: prefill {prefill:.3f} s, decode {made - 1} steps at {decode:8.1f} tok/s "
              f"(warm-up incl. compilation {warm:.0f} s)", flush=True)
    torch.cuda.empty_cache()
print(f"{'batch':>5} {'variant':>9} {'decode tok/s':>13}")
for batch, variant, _, _, decode, _ in rows:
    print(f"{batch:5d} {variant:>9} {decode:13.1f}")
