#!/usr/bin/env bash
# The main job on the default embedded setup: install, build an index over a corpus (the bundled
# examples by default, or any folders given, e.g. ../shared/data/cn-law ../shared/data/us-law),
# answer two questions with verified citations, then serve the API and the web page on
# http://127.0.0.1:8000 (the page at /, the OpenAI-compatible endpoint at /v1/chat/completions).
# Set IPQA_DEMO_NO_SERVE=1 to stop after the answers.
set -euo pipefail
cd "$(dirname "$0")/.."
export DO_NOT_TRACK=true HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
bash scripts/setup.sh
IPQA=.venv/bin/ipqa
# Questions the chosen corpus can answer: the bundled sample corpus is fictional (a city regulation,
# a patent, a judgment and an opinion written for the demo); the real corpora hold the statutes.
if [ "$#" -gt 0 ]; then
  sources=("$@")
  questions=("为科学研究和实验而专门使用有关专利的，是否构成侵犯专利权？"
             "Is making a patented invention solely for uses reasonably related to an FDA submission infringement?")
else
  sources=(examples/corpus)
  questions=("电子商务平台经营者接到侵权通知后应当采取哪些措施？不采取的有什么后果？"
             "Can a patentee use the doctrine of equivalents to cover a brush that the specification disclosed but did not claim?")
fi
$IPQA index rebuild --source "${sources[@]}"
# The domain prior's field-of-law model, learned from the index (seconds).
$IPQA train fields
# With the real corpora: the Chinese retriever, trained here from the statutes and the STARD questions,
# and one held-out model per fold of those questions for the reranker to learn from (about a minute
# each on 2 cores); the English one, the bundled MiniLM adapted on the U.S. Code's and the patents' own
# pairs (about 11 minutes); a finished model is reused, an interrupted one resumed. Then a rebuild that
# embeds each language with its model.
if [ "$#" -gt 0 ]; then
  trained=""
  if $IPQA train embedder --language zh; then
    trained=1
  else
    echo "no Chinese embedder trained (the corpus has no Chinese statutes); Chinese is served by BM25"
  fi
  if $IPQA train embedder --language en; then
    trained=1
  else
    echo "no English embedder adapted (exit $?: see above; with no U.S. Code sections or patents there is nothing to learn from); English keeps the bundled MiniLM"
  fi
  if [ -n "$trained" ]; then
    $IPQA index rebuild --source "${sources[@]}"
  fi
fi
$IPQA index status
# With the real corpora, learn the reranker from the STARD lay questions and the IP practitioners'
# questions written for this project (rag/data/ip_questions.jsonl, Chinese and English): a few
# minutes; it prints its cross-validated figures per dataset, language and field of law, and is then
# served only where it beat the first stage. The sample corpus has nothing to learn from.
stard="${IPQA_SHARED_DATA:-../shared/data}/evals/stard-train.jsonl"
if [ "$#" -gt 0 ] && [ -f "$stard" ]; then
  $IPQA train reranker --dataset "$stard" --dataset rag/data/ip_questions.jsonl \
    || echo "no reranker trained (the index needs the statutes the questions cite); answering without it"
  # A second one of the lay questions alone (models/ltr-stard): each question goes to the reranker that
  # cross-validated better on its field of law, so lay civil-law questions are not ranked by a model
  # that also learned how practitioners ask about patents.
  $IPQA train reranker --dataset "$stard" --name stard \
    || echo "no STARD-only reranker trained; the main reranker serves every field it was validated on"
fi
for question in "${questions[@]}"; do
  $IPQA ask "$question"
done
if [ -z "${IPQA_DEMO_NO_SERVE:-}" ]; then
  echo "web page: http://127.0.0.1:8000/ (English: /?lang=en); API docs: http://127.0.0.1:8000/docs"
  exec $IPQA serve --host 127.0.0.1 --port 8000
fi
