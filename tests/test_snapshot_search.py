"""The snapshot's id-only searches (``search_bm25_ids`` / ``search_dense_ids``) and batch chunk fetch:
the same ranking as the Hit-returning searches, without loading a chunk."""

from __future__ import annotations

import pytest

from index_corpus import built_snapshot
from indexes.protocols import IndexSnapshot, SearchFilters

BM25_QUERIES = ["专利权 许可 实施", "发明创造 实用新型 外观设计", "patent infringement", "bicycle brake caliper"]
DENSE_QUERIES = ["whoever actively induces infringement", "hydraulic caliper brake", "patent"]
FILTERS = [None, SearchFilters(jurisdictions=frozenset({"US"})), SearchFilters(version_to="2010-01-01"),
           SearchFilters(kinds=frozenset({"patent"}))]


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory):
    snap = built_snapshot(tmp_path_factory.mktemp("index"))
    yield snap
    snap.close()


def test_snapshot_implements_the_extended_protocol(snapshot) -> None:
    assert isinstance(snapshot, IndexSnapshot)


@pytest.mark.parametrize("filters", FILTERS)
def test_id_searches_rank_exactly_like_the_hit_searches(snapshot, filters) -> None:
    for method, queries in (("bm25", BM25_QUERIES), ("dense", DENSE_QUERIES)):
        for query in queries:
            hits = getattr(snapshot, f"search_{method}")(query, 5, filters)
            scored = getattr(snapshot, f"search_{method}_ids")(query, 5, filters)
            chunks = snapshot.chunks_by_int_ids(i for i, _ in scored)
            expected = [(h.chunk.id, h.score) for h in hits]
            assert [(chunks[i].id, s) for i, s in scored] == expected, (method, query)
            assert all(isinstance(i, int) and isinstance(s, float) for i, s in scored)


def test_id_searches_honour_filters_and_languages(snapshot) -> None:
    us = SearchFilters(jurisdictions=frozenset({"US"}))
    scored = snapshot.search_bm25_ids("patent infringement brake", 10, us)
    chunks = snapshot.chunks_by_int_ids(i for i, _ in scored)
    assert scored
    assert all(snapshot.store.document(c.document_id).jurisdiction == "US" for c in chunks.values())
    assert snapshot.search_bm25_ids("专利", 5, SearchFilters(kinds=frozenset())) == []  # nothing allowed
    assert snapshot.search_dense_ids("专利权的保护", 3) == []  # Chinese: not served by this embedder
    assert len(snapshot.search_dense_ids("hydraulic caliper brake", 3)) == 3


def test_chunks_by_int_ids_leaves_unknown_ids_out(snapshot) -> None:
    scored = snapshot.search_bm25_ids("patent infringement", 2)
    ids = [i for i, _ in scored]
    chunks = snapshot.chunks_by_int_ids([*ids, 12345])
    assert sorted(chunks) == sorted(ids)
    assert snapshot.chunks_by_int_ids([]) == {}
