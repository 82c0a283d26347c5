#!/usr/bin/env bash
# Install evalsuite into ./.venv (CPU torch from the local wheel, the project editable).
#   bash scripts/install.sh          # the suite itself
#   bash scripts/install.sh --test   # + test deps, headless Chromium, fonts, and the vLLM venv
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WITH_TEST=0
[[ "${1:-}" == "--test" ]] && WITH_TEST=1

if [[ $WITH_TEST == 1 ]] && command -v apt-get >/dev/null; then
  # Debian's Chromium drives the HTML-report browser tests; CJK fonts for the Chinese OCR tests.
  need=()
  command -v chromium >/dev/null || need+=(chromium)
  fc-list 2>/dev/null | grep -qi "noto sans cjk\|wqy" || need+=(fonts-noto-cjk)
  fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
  if (( ${#need[@]} )); then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}") \
      || echo "warning: apt-get install ${need[*]} failed" >&2
  fi
fi

[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
# torch first, pinned: an unpinned torch would pull a multi-GB CUDA build.
.venv/bin/pip install -q torch==2.13.0
if [[ $WITH_TEST == 1 ]]; then
  .venv/bin/pip install -q -e ".[test]"
  if [[ -f scripts/setup_vllm.sh ]]; then
    bash scripts/setup_vllm.sh
  fi
else
  .venv/bin/pip install -q -e .
fi
echo "evalsuite installed in .venv"
