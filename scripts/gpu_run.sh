#!/usr/bin/env bash
# On a lent GPU machine (no registries there): install the carried gguf wheel, then run
# scripts/remote_sweep.py. Usage: scripts/gpu_run.sh CONFIG DEADLINE_S WORKERS [extra args]
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD EGCFG_DATA_DIR=$PWD/.gpu/data EGCFG_CACHE_DIR=/tmp/egcfg-cache PYTHONUNBUFFERED=1
nvidia-smi -L; python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, torch.cuda.is_available())"
command -v bwrap || echo "no bwrap: the sandbox falls back to resource limits"
cfg=$1; deadline=$2; workers=$3; shift 3
python3 scripts/remote_sweep.py -c "$cfg" --workers "$workers" --device cuda --deadline-s "$deadline" \
  --out "$OUT" --gguf-parts '.gpu/part-*' "$@" 2>&1 | grep -v "^Loading weights" | tee "$OUT/log.txt"
