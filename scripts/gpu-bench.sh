#!/usr/bin/env bash
# GPU benchmark, in one go on the GPU machine: batch-1 decode of a Llama-3-8B-shaped model with random BF16
# weights made on the device, against the copy bandwidth measured in the same run; then the PyTorch peer
# (transformers' LlamaForCausalLM, random BF16 weights, static cache, same shapes) if python3 has torch.
# Usage: gpu-bench.sh [--prompt 512] [--tokens 256] [--layers 32]   (LETHE_BENCH_PEER=0 skips the peer)
set -euo pipefail
source "$(dirname "$0")/gpu-common.sh"
echo "== lethe (JCuda)"
run_java dev.lethe.engine.gpu.GpuBench "$@"
if [ "${LETHE_BENCH_PEER:-1}" = 0 ]; then
  echo "== PyTorch peer skipped (LETHE_BENCH_PEER=0)"
elif python3 -c 'import torch, transformers' 2>/dev/null; then
  echo "== PyTorch peer"
  PYTHONUNBUFFERED=1 python3 "$here/gpu_peer.py" "$@"
else
  echo "== PyTorch peer skipped: python3 has no torch/transformers here"
fi
