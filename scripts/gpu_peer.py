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


def generate(n):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                             cache_implementation="static", pad_token_id=0)
    torch.cuda.synchronize()
    return time.perf_counter() - t0, out.shape[1] - a.prompt


generate(4)  # warm-up: kernels, cache allocation
prefill, _ = generate(1)
total, made = generate(a.tokens)
decode = (made - 1) * a.batch / (total - prefill)
print(f"torch {torch.__version__}, {params / 1e9:.2f} B parameters, batch {a.batch}")
print(f"prefill {a.prompt} tokens: {prefill:.2f} s")
print(f"decode: {made - 1} steps at {decode:.1f} tok/s (static cache, eager, no torch.compile)")
