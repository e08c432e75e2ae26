#!/usr/bin/env bash
# GPU benchmark, in one go on the GPU machine (Llama-3-8B shape, random BF16 weights made on the device):
#   1. batch-1 decode against the copy bandwidth measured in the same run (GpuBench; its arguments: "$@");
#   2. batched decoding (GpuBatchBench; arguments from LETHE_BATCH_ARGS): the batched products alone, full-cache
#      decode throughput at the peer's batch sizes, and throughput under a fixed KV budget with long generations
#      for the full cache, Lethe and fixed retention ratios;
#   3. the PyTorch peer (transformers' LlamaForCausalLM, random BF16 weights, static cache, same shapes) at the
#      batch sizes in LETHE_PEER_BATCHES (default 1,16,64), if python3 has torch.
# LETHE_BENCH_BATCH1=0, LETHE_BENCH_BATCHED=0 and LETHE_BENCH_PEER=0 skip a part.
set -euo pipefail
source "$(dirname "$0")/gpu-common.sh"
if [ "${LETHE_BENCH_BATCH1:-1}" != 0 ]; then
  echo "== lethe (JCuda), batch 1"
  run_java dev.lethe.engine.gpu.GpuBench "$@"
fi
if [ "${LETHE_BENCH_BATCHED:-1}" != 0 ]; then
  echo "== lethe (JCuda), batched"
  # shellcheck disable=SC2086
  run_java dev.lethe.engine.gpu.GpuBatchBench ${LETHE_BATCH_ARGS:-}
fi
if [ "${LETHE_BENCH_PEER:-1}" = 0 ]; then
  echo "== PyTorch peer skipped (LETHE_BENCH_PEER=0)"
elif python3 -c 'import torch, transformers' 2>/dev/null; then
  echo "== PyTorch peer"
  PYTHONUNBUFFERED=1 python3 "$here/gpu_peer.py" --batches "${LETHE_PEER_BATCHES:-1,16,64}" "$@"
else
  echo "== PyTorch peer skipped: python3 has no torch/transformers here"
fi
