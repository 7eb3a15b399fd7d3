"""Every chunk citation a parser writes is a citation ``parse_citation`` reads back to the chunk's
own unit: otherwise the chunk is only findable under a fallback key (its citation written exactly),
and every other written form of it (《中华人民共和国宪法》序言, US H2,140, claim 1) finds nothing."""

from __future__ import annotations

from collections import Counter

import pytest

from ingest.citations import parse_citation, unit_keys
from ingest.pipeline import ingest

MAX = 200 * 1024 * 1024


def _not_round_tripping(documents) -> tuple[int, Counter[str], list[str]]:
    chunks = 0
    by_unit: Counter[str] = Counter()
    examples: list[str] = []
    for parsed in documents:
        for chunk in parsed.chunks:
            chunks += 1
            ref = parse_citation(chunk.citation)
            if ref is None or ref.unit_key not in unit_keys(chunk):
                by_unit[chunk.unit] += 1
                if len(examples) < 20:
                    examples.append(f"{chunk.citation!r} ({chunk.unit}) -> {ref.unit_key if ref else None}")
    return chunks, by_unit, examples


def test_every_example_chunk_citation_round_trips(examples_dir):
    result = ingest([examples_dir], max_file_bytes=MAX)
    chunks, failures, examples = _not_round_tripping(result.documents)
    assert chunks > 20
    assert not failures, examples


@pytest.mark.shared
@pytest.mark.slow
def test_every_chunk_citation_of_the_shared_data_round_trips(shared_data):
    result = ingest([shared_data], max_file_bytes=MAX, jobs=2)
    chunks, failures, examples = _not_round_tripping(result.documents)
    assert chunks > 80_000
    # the forms that once fell through: US SIRs (US H2,140 H1, claim 1), preambles (宪法 序言) and
    # laws without articles cited by name alone (刑法修正案（二）)
    units = Counter(c.unit for d in result.documents for c in d.chunks)
    assert units["preamble"] >= 4 and units["text"] >= 20
    assert any(c.citation.startswith("US H") for d in result.documents for c in d.chunks)
    assert not failures, examples
