#!/usr/bin/env bash
# Creates .venv and installs ipqa with its dev tools. Safe to run again (pip skips what is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
python -m pip install -q --upgrade pip wheel setuptools
# torch first, from the CPU wheel on local disk, so nothing after it pulls a CUDA build.
python -m pip install -q -c constraints.txt "torch==2.13.0"
python -m pip install -q -c constraints.txt -e ".[dev]"
python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
