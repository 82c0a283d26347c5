#!/usr/bin/env bash
# Install evalsuite into ./.venv (CPU torch from the local wheel, the project editable).
#   bash scripts/install.sh          # the suite itself
#   bash scripts/install.sh --test   # + test deps, headless Chromium, fonts, and the vLLM venv
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WITH_TEST=0
[[ "${1:-}" == "--test" ]] && WITH_TEST=1

if [[ $WITH_TEST == 1 ]]; then
  # System packages the tests need, so that nothing is skipped in CI: Debian's Chromium (HTML
  # report browser tests), tesseract with English and Simplified Chinese (the tesseract OCR
  # backend test), DejaVu (edit-asset reproduction), Noto CJK and WenQuanYi Micro Hei (Chinese OCR
  # tests; the edit pack's zh_banner.png is drawn with WenQuanYi). A failure here fails --test.
  need=()
  command -v chromium >/dev/null || need+=(chromium)
  command -v tesseract >/dev/null || need+=(tesseract-ocr)
  langs=$(tesseract --list-langs 2>/dev/null || true)
  grep -qx eng <<<"$langs" || need+=(tesseract-ocr-eng)
  grep -qx chi_sim <<<"$langs" || need+=(tesseract-ocr-chi-sim)
  [[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ]] || need+=(fonts-dejavu-core)
  [[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]] || need+=(fonts-noto-cjk)
  [[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]] || need+=(fonts-wqy-microhei)
  if (( ${#need[@]} )); then
    if ! command -v apt-get >/dev/null; then
      echo "error: install.sh --test needs ${need[*]} (Debian package names) and apt-get is not available" >&2
      exit 1
    fi
    SUDO=""
    [[ $(id -u) == 0 ]] || SUDO="sudo"
    if ! ($SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
          --no-install-recommends "${need[@]}"); then
      echo "error: apt-get install ${need[*]} failed; the tests need these packages" >&2
      exit 1
    fi
  fi
fi

[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
# torch first, pinned: an unpinned torch would pull a multi-GB CUDA build.
.venv/bin/pip install -q torch==2.13.0
if [[ $WITH_TEST == 1 ]]; then
  .venv/bin/pip install -q -e ".[test,ray]"
  if [[ -f scripts/setup_vllm.sh ]]; then
    bash scripts/setup_vllm.sh
  fi
else
  .venv/bin/pip install -q -e .
fi
echo "evalsuite installed in .venv"
