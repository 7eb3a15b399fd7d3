#!/usr/bin/env bash
# The test command (README line 2 and CI). Runs every test, slow ones included.
set -euo pipefail
cd "$(dirname "$0")/.."
export DO_NOT_TRACK=true HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m pytest -q "$@"
