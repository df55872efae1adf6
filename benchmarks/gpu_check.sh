#!/usr/bin/env bash
# GPU check (< 8 minutes on one H100/H200): training-step time and host-device syncs per step, by source
# (gpu_steps.py), then one ML-1M-scale synthetic DMF epoch at paper settings
# (batch 256, 7 negatives, towers [512,64]/[1024,64], Adam) and the ML-1M-scale evaluation of all users
# (gpu_check.py), printed as markdown tables. Run from anywhere: bash benchmarks/gpu_check.sh
# Needs: python3 with torch (CUDA build), numpy, pandas, pytorch-lightning, hydra-core, omegaconf (deepmf's
# dependencies; wandb is not imported). Missing ones are listed, then installed with pip from what pip can
# reach (set PIP_FIND_LINKS / PIP_INDEX_URL to the carried wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "nvidia-smi not found"
missing=$($PY - <<'PYEOF'
import importlib.util
need = {"torch": "torch", "numpy": "numpy", "pandas": "pandas", "pytorch_lightning": "pytorch-lightning",
        "hydra": "hydra-core", "omegaconf": "omegaconf"}
print(" ".join(pip for module, pip in need.items() if importlib.util.find_spec(module) is None))
PYEOF
)
if [ -n "$missing" ]; then
  echo "missing python packages: $missing"
  echo "installing: pip install $missing (torch pinned by constraints.txt)"
  $PY -m pip install -q -c constraints.txt $missing || { echo "could not install: $missing"; exit 2; }
fi
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
timeout 100 $PY benchmarks/gpu_steps.py || echo "gpu_steps.py failed (rc $?)"
timeout 330 $PY benchmarks/gpu_check.py ml1m
