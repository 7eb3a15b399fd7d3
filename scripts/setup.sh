#!/usr/bin/env bash
# Creates .venv and installs ipqa with its dev tools. Safe to run again (pip skips what is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# The browser tests drive Debian's Chromium (Playwright's own browser download is never used) and
# the page shows Chinese: install both when missing and we may (root, or passwordless sudo).
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi
    if [ "$SUDO" != none ] && command -v apt-get >/dev/null 2>&1; then
        $SUDO apt-get update -q
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk
    else
        echo "setup: chromium and fonts-noto-cjk are missing and cannot be installed here; browser tests will skip" >&2
    fi
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
python -m pip install -q --upgrade pip wheel setuptools
# torch first, from the CPU wheel on local disk, so nothing after it pulls a CUDA build.
python -m pip install -q -c constraints.txt "torch==2.13.0"
python -m pip install -q -c constraints.txt -e ".[dev]"
python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
