#!/usr/bin/env bash
# GPU check of DMF's training at the paper's settings (batch 256, 7 negatives, towers [512,64]/[1024,64],
# Adam), in one unattended call of under 8 minutes on one H100 (benchmarks/gpu_check.py, markdown tables):
#   1. ms / step and host-device syncs / step of today's step and of the fast path (eager, CUDA graph,
#      torch.compile; dense and padded-sparse first layers), same machine, same run, ML-1M-scale data;
#   2. one full ML-1M-scale synthetic epoch (6,040 x 3,706, 1M ratings) on the fast path (trainer=gpu's
#      default), the evaluation of all users, peak GPU memory and test HR@10 after the epoch;
#   3. the same epoch on today's path (about 160-250 s), for its time and test HR@10;
#   4. one Amazon-movies-scale epoch (15k x 90k, 0.9M ratings) on the fast path, dense rows of Y, then
#      the padded sparse rows that the default budget picks.
# Each part runs in its own process under a time limit taken from what is left of GPU_CHECK_BUDGET_S
# (default 460 s), so a part that runs long costs only itself. Output: stdout and $GPU_CHECK_OUT
# (default: $OUT/gpu_check.md when $OUT is set, else outputs/gpu_check.md).
# GPU_CHECK_TINY=1 runs the same script on the CPU on small data (a check, no figures): 1-4 minutes here,
# depending on the load.
# Needs python3 with torch (CUDA build), numpy, pandas, pytorch-lightning, hydra-core, omegaconf; missing
# ones are installed with pip from what it can reach (PIP_FIND_LINKS / PIP_INDEX_URL).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
BUDGET=${GPU_CHECK_BUDGET_S:-460}
REPORT=${GPU_CHECK_OUT:-${OUT:+$OUT/gpu_check.md}}
REPORT=${REPORT:-outputs/gpu_check.md}
mkdir -p "$(dirname "$REPORT")"
exec > >(tee "$REPORT") 2>&1
STARTED=$SECONDS
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "nvidia-smi not found"
missing=$($PY - <<'PYEOF'
import importlib.util
need = {"torch": "torch", "numpy": "numpy", "pandas": "pandas", "pytorch_lightning": "pytorch-lightning",
        "hydra": "hydra-core", "omegaconf": "omegaconf"}
print(" ".join(pip for module, pip in need.items() if importlib.util.find_spec(module) is None))
PYEOF
)
if [ -n "$missing" ]; then
  echo "missing python packages: $missing; installing: pip install $missing (torch pinned by constraints.txt)"
  $PY -m pip install -q -c constraints.txt $missing || { echo "could not install: $missing"; exit 2; }
fi
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
export PYTHONPATH="$PWD/src:$PWD/benchmarks${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1  # a part cut off by its time limit keeps the rows it printed

# part <most seconds> <args...>: one part under min(most, what is left of the budget).
part() {
  local most=$1; shift
  local left=$((BUDGET - (SECONDS - STARTED)))
  # GPU_CHECK_TINY: the CPU's speed here says nothing, so a part may take what is left of the budget.
  [ "${GPU_CHECK_TINY:-0}" = 1 ] && most=$left
  local limit=$((most < left ? most : left))
  if [ "$limit" -lt 15 ]; then echo; echo "skipped (budget spent): gpu_check.py $*"; return; fi
  echo; echo "## gpu_check.py $* (limit ${limit} s)"
  local t0=$SECONDS
  timeout "$limit" $PY benchmarks/gpu_check.py "$@" 2>&1 | grep -v -E "^(GPU available|TPU available|LOCAL_RANK|HPU available)|Tip: For seamless|\`Trainer.fit\` stopped"
  local rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || echo "gpu_check.py $* ended with rc $rc (124: its time limit)"
  echo "(part took $((SECONDS - t0)) s)"
}

part 130 steps --preset ml1m
part 80 epoch --path fast --preset ml1m
part 250 epoch --path old --preset ml1m
# Amazon-movies scale: Y's dense rows (2 x 5.3 GB) exceed the default fast_path.dense_budget_mb (4096), so
# trainer=gpu would take the padded sparse rows; the dense rows fit an 80 GB card: both, dense first.
part 70 epoch --path fast --preset amazon_movies --budget-mb 16384
part 120 epoch --path fast --preset amazon_movies
echo; echo "gpu_check.sh: $((SECONDS - STARTED)) s in all"
