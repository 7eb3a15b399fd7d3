"""The IP training questions shipped in rag/data/ip_questions.jsonl (training data of the learned
reranker beside STARD): well formed, every gold provision in the corpus, and none a copy or close
paraphrase of a validation question (ip-qa-dev is for validation only)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from sft.leakage import ngrams

QUESTIONS = Path(__file__).resolve().parent.parent / "rag" / "data" / "ip_questions.jsonl"
LEAK_LIMIT = 0.4  # share of the shorter question's 5-grams found in the other (sft.leakage; stricter than 0.5)


def _rows() -> list[dict]:
    return [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_set_is_well_formed_and_covers_both_languages_and_the_main_fields():
    rows = _rows()
    assert len({r["id"] for r in rows}) == len(rows) >= 700
    for row in rows:
        assert row["question"].strip() and 1 <= len(row["gold"]) <= 3
        assert row["type"] in {"doctrine", "conduct", "case"} and row["language"] in {"zh", "en"}
        assert row["topic"] in {"patent", "trademark", "copyright", "unfair_competition", "general"}
    languages = Counter(r["language"] for r in rows)
    assert languages["zh"] >= 300 and languages["en"] >= 300
    topics = Counter((r["language"], r["topic"]) for r in rows)
    assert all(topics[(lang, topic)] >= 50 for lang in ("zh", "en") for topic in ("patent", "trademark", "copyright"))


@pytest.mark.shared
def test_no_question_overlaps_a_validation_question(shared_data):
    validation = [json.loads(line) for line in (shared_data / "evals" / "ip-qa-dev.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    held_out = [(v["id"], ngrams(v["question"])) for v in validation]
    worst = []
    for row in _rows():
        grams = ngrams(row["question"])
        for vid, other in held_out:
            share = len(grams & other) / max(1, min(len(grams), len(other)))
            if share >= LEAK_LIMIT:
                worst.append((row["id"], vid, round(share, 2)))
    assert worst == []


@pytest.mark.shared
@pytest.mark.slow
def test_every_gold_provision_resolves_in_the_corpus(shared_data):
    from ingest.citations import resolve
    from ingest.lookup import InMemoryChunkLookup
    from ingest.pipeline import parse_file

    rows = _rows()
    titles = {g.split("第")[0] for r in rows for g in r["gold"] if r["language"] == "zh"}
    lookup = InMemoryChunkLookup()
    for file in sorted((shared_data / "cn-law").rglob("*.md")):
        with file.open(encoding="utf-8") as f:
            first = f.readline().lstrip("#").strip()
        if any(first.startswith(t) or t.startswith(first) for t in titles):
            for parsed in parse_file(file, max_file_bytes=50_000_000):
                lookup.add(parsed)
    for file in (shared_data / "us-law").iterdir():
        for parsed in parse_file(file, max_file_bytes=50_000_000):
            lookup.add(parsed)
    assert len(lookup) > 3000  # the IP laws and the three US titles were parsed
    missing = [(r["id"], g) for r in rows for g in r["gold"] if not resolve(g, lookup)]
    assert missing == []
