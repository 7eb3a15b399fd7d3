#!/usr/bin/env bash
# The main job on the default embedded setup: install, build an index over a corpus (the bundled
# examples by default, or any folders given, e.g. ../shared/data/cn-law ../shared/data/us-law),
# answer two questions with verified citations, then serve the API on http://127.0.0.1:8000.
# Set IPQA_DEMO_NO_SERVE=1 to stop after the answers.
set -euo pipefail
cd "$(dirname "$0")/.."
export DO_NOT_TRACK=true HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
bash scripts/setup.sh
IPQA=.venv/bin/ipqa
if [ "$#" -gt 0 ]; then sources=("$@"); else sources=(examples/corpus); fi
$IPQA index rebuild --source "${sources[@]}"
$IPQA index status
$IPQA ask "为科学研究而使用有关专利的，是否构成侵犯专利权？"
$IPQA ask "Is making a patented invention solely for uses reasonably related to an FDA submission infringement?"
if [ -z "${IPQA_DEMO_NO_SERVE:-}" ]; then
  exec $IPQA serve --host 127.0.0.1 --port 8000
fi
