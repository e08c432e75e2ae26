#!/usr/bin/env bash
# GPU tests, in one go on the GPU machine: every kernel against its CPU twin on fresh random inputs, then the
# whole GPU forward pass against the CPU engine on stories260K (greedy ids, logits, prefill, Lethe pruning), and the
# batched engine (tensor-core products, paged attention, continuous batching, Lethe rounds freeing pool blocks).
# Prints a table and exits non-zero on any failure (2: no usable GPU).
set -euo pipefail
source "$(dirname "$0")/gpu-common.sh"
model="${1:-$data/models/stories260K.gguf}"
golden="${2:-$data/golden/stories260K.greedy-golden.json}"
run_java dev.lethe.engine.gpu.GpuSelfTest --model "$model" --golden "$golden"
