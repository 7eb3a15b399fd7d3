"""Units a question cites explicitly come first (rag/cited.py)."""

from __future__ import annotations

import pytest

from indexes.protocols import SearchFilters
from ingest.lookup import InMemoryChunkLookup
from ingest.pipeline import ingest
from ipqa.domain import Hit
from rag.cited import cited_hits, put_cited_first

LAW = "示例知识产权保护条例"


@pytest.fixture(scope="module")
def lookup(examples_dir):
    result = ingest([examples_dir], max_file_bytes=10_000_000)
    assert not result.errors
    return InMemoryChunkLookup(result.documents)


def test_a_cited_article_is_returned_in_the_order_cited(lookup):
    hits = cited_hits(f"{LAW}第七条和第十一条规定了平台的什么义务？", lookup, known_laws=[LAW])
    assert [hit.chunk.citation for hit in hits] == [f"{LAW} 第七条", f"{LAW} 第十一条"]
    assert all(hit.source == "cited" for hit in hits)
    assert [hit.rank for hit in hits] == [1, 2]


def test_a_citation_that_does_not_resolve_brings_nothing(lookup):
    assert cited_hits(f"{LAW}第九十九条是否适用？", lookup, known_laws=[LAW]) == []
    assert cited_hits("电子商务平台接到通知后应当怎么办？", lookup, known_laws=[LAW]) == []


def test_filters_still_apply(lookup):
    question = f"{LAW}第七条规定了什么？"
    assert cited_hits(question, lookup, known_laws=[LAW], filters=SearchFilters(jurisdictions=frozenset({"US"}))) == []
    kept = cited_hits(question, lookup, known_laws=[LAW], filters=SearchFilters(jurisdictions=frozenset({"CN"})))
    assert [hit.chunk.citation for hit in kept] == [f"{LAW} 第七条"]


def test_cited_units_go_first_without_duplicates(lookup):
    cited = cited_hits(f"{LAW}第七条", lookup, known_laws=[LAW])
    seventh = cited[0].chunk
    eighth = next(iter(cited_hits(f"{LAW}第八条", lookup, known_laws=[LAW]))).chunk
    ranked = [Hit(chunk=eighth, score=0.9, rank=1, source="hybrid"),
              Hit(chunk=seventh, score=0.5, rank=2, source="hybrid")]
    merged = put_cited_first(cited, ranked, k=10)
    assert [(hit.chunk.id, hit.source, hit.rank) for hit in merged] == [
        (seventh.id, "cited", 1), (eighth.id, "hybrid", 2)]
    assert len(put_cited_first(cited, ranked, k=1)) == 1
