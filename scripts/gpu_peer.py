"""The PyTorch peer of GpuBench: transformers' LlamaForCausalLM with random BF16 weights in the same
Llama-3-8B shape, greedy decoding with a static cache, batch 1. Prints prefill time and decode tok/s."""
import argparse
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

p = argparse.ArgumentParser()
p.add_argument("--prompt", type=int, default=512)
p.add_argument("--tokens", type=int, default=256)
p.add_argument("--layers", type=int, default=32)
p.add_argument("--batch", type=int, default=1)
a = p.parse_args()

config = LlamaConfig(hidden_size=4096, intermediate_size=14336, num_hidden_layers=a.layers, num_attention_heads=32,
                     num_key_value_heads=8, head_dim=128, vocab_size=128256, max_position_embeddings=8192,
                     rope_theta=500000.0, rms_norm_eps=1e-5, tie_word_embeddings=False)
torch.manual_seed(0)
torch.set_default_dtype(torch.bfloat16)
with torch.device("cuda"):
    model = LlamaForCausalLM(config).eval()
params = sum(t.numel() for t in model.parameters())
ids = torch.randint(0, config.vocab_size, (a.batch, a.prompt), device="cuda")
mask = torch.ones_like(ids)


def generate(n, compiled):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                             cache_implementation="static", disable_compile=not compiled, pad_token_id=0)
    torch.cuda.synchronize()
    return time.perf_counter() - t0, out.shape[1] - a.prompt


print(f"torch {torch.__version__}, {params / 1e9:.2f} B parameters, batch {a.batch}, prompt {a.prompt}")
# Each variant is run once untimed at both shapes (compilation, cache allocation), then timed.
# The 1-token run is the prefill; decode speed comes from the difference.
for compiled in (False, True):
    generate(1, compiled)
    generate(a.tokens, compiled)
    prefill, _ = generate(1, compiled)
    total, made = generate(a.tokens, compiled)
    decode = (made - 1) * a.batch / (total - prefill)
    name = "static cache, torch.compile (transformers' default for it)" if compiled else "static cache, eager"
    print(f"{name}: prefill {prefill:.3f} s, decode {made - 1} steps at {decode:.1f} tok/s")
