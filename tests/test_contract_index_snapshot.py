"""Contract of :class:`indexes.protocols.IndexSnapshot`: one suite every way of getting a snapshot runs
(a full build, a version made by incremental jobs, the one an ``IndexManager`` serves, one opened
without an embedder), asserting behaviour: ranked hits, filters applied inside the searches, dense
search only for served languages, id searches equal to hit searches, and counts matching the
manifest."""

from __future__ import annotations

import pytest

from index_corpus import HashingEmbedder, corpus, patent
from indexes.build import BuildOptions, add_parsed_documents, build_from_documents, remove_documents
from indexes.manager import IndexManager
from indexes.protocols import IndexSnapshot, SearchFilters
from indexes.snapshot import open_snapshot

BM25_QUERIES = ["专利权 许可 实施", "发明创造 实用新型 外观设计", "patent infringement", "bicycle brake caliper"]
DENSE_QUERIES = ["whoever actively induces infringement", "hydraulic caliper brake", "patent"]
FILTERS = [None, SearchFilters(jurisdictions=frozenset({"US"})), SearchFilters(version_to="2010-01-01"),
           SearchFilters(kinds=frozenset({"patent"}))]
OPTIONS = BuildOptions()


def _full_build(root):
    embedder = HashingEmbedder()
    build_from_documents(root, corpus(), embedder=embedder, options=OPTIONS)
    snapshot = open_snapshot(root, embedder=embedder)
    return snapshot, snapshot.close


def _incremental(root):
    # the same corpus reached by add and remove jobs: a document added, another removed again
    embedder = HashingEmbedder()
    documents = corpus()
    build_from_documents(root, documents[:2], embedder=embedder, options=OPTIONS)
    add_parsed_documents(root, documents[2:], embedder=embedder, options=OPTIONS)
    extra = patent("US 7,000,001 B1", "folding umbrella")
    add_parsed_documents(root, [extra], embedder=embedder, options=OPTIONS)
    remove_documents(root, [extra.document.id], embedder=embedder, options=OPTIONS)
    snapshot = open_snapshot(root, embedder=embedder)
    return snapshot, snapshot.close


def _served_by_a_manager(root):
    embedder = HashingEmbedder()
    build_from_documents(root, corpus(), embedder=embedder, options=OPTIONS)
    manager = IndexManager(root, embedder=embedder, options=OPTIONS)
    return manager.current(), manager.close


def _without_an_embedder(root):
    build_from_documents(root, corpus(), embedder=HashingEmbedder(), options=OPTIONS)
    snapshot = open_snapshot(root, embedder=None)
    return snapshot, snapshot.close


SNAPSHOTS = {"full-build": _full_build, "incremental": _incremental, "index-manager": _served_by_a_manager,
             "no-embedder": _without_an_embedder}


@pytest.fixture(scope="module", params=sorted(SNAPSHOTS))
def snapshot(request, tmp_path_factory: pytest.TempPathFactory):
    snap, close = SNAPSHOTS[request.param](tmp_path_factory.mktemp("index"))
    yield snap
    close()


def _document(snapshot, hit):
    return snapshot.store.document(hit.chunk.document_id)


def _passes(document, filters: SearchFilters | None) -> bool:
    if filters is None:
        return True
    return ((filters.jurisdictions is None or document.jurisdiction in filters.jurisdictions)
            and (filters.kinds is None or document.kind in filters.kinds)
            and (filters.version_to is None or (document.version is not None
                                                and document.version <= filters.version_to)))


def test_version_and_counts_agree_with_the_manifest(snapshot) -> None:
    assert isinstance(snapshot, IndexSnapshot)
    assert snapshot.version == snapshot.manifest["version"]
    assert snapshot.store.count_chunks() == snapshot.manifest["counts"]["chunks"] == sum(
        len(parsed.chunks) for parsed in corpus())


@pytest.mark.parametrize("filters", FILTERS)
def test_searches_return_ranked_distinct_hits_that_pass_the_filters(snapshot, filters) -> None:
    for method, queries in (("bm25", BM25_QUERIES), ("dense", DENSE_QUERIES)):
        for query in queries:
            hits = getattr(snapshot, f"search_{method}")(query, 4, filters)
            assert len(hits) <= 4
            assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
            assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
            assert len({h.chunk.id for h in hits}) == len(hits)
            assert all(h.source == method for h in hits)
            assert all(_passes(_document(snapshot, h), filters) for h in hits), (method, query)
    assert snapshot.search_bm25("patent infringement", 10, None), "BM25 finds the corpus's own words"


def test_dense_search_answers_exactly_the_languages_the_embedder_serves(snapshot) -> None:
    english = snapshot.search_dense("hydraulic caliper brake", 3)
    assert bool(english) == ("en" in snapshot.embedder_languages)
    assert snapshot.search_dense("专利权的保护", 3) == [] or "zh" in snapshot.embedder_languages


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
    assert snapshot.search_dense_ids("专利权的保护", 3) == []  # Chinese: served by no embedder here
    assert len(snapshot.search_dense_ids("hydraulic caliper brake", 3)) == (3 if snapshot.embedder_languages else 0)


def test_chunks_by_int_ids_leaves_unknown_ids_out(snapshot) -> None:
    scored = snapshot.search_bm25_ids("patent infringement", 2)
    ids = [i for i, _ in scored]
    chunks = snapshot.chunks_by_int_ids([*ids, 12345])
    assert sorted(chunks) == sorted(ids)
    assert snapshot.chunks_by_int_ids([]) == {}


def test_matched_terms_count_each_chunks_query_terms_as_tokenising_its_indexed_text_does(snapshot) -> None:
    from indexes.tokenize import tokenize

    ids, texts, languages = snapshot.store.index_rows()
    for query, language in (("专利法 第十一条 专利权 许可 实施", "zh"), ("patent infringement brake caliper", "en")):
        tokens = set(tokenize(query, language))
        asked = [*ids.tolist()[::-1], 12345]  # every chunk (another order than the index's) and an unknown id
        expected = [len(tokens & set(tokenize(t, lang))) for t, lang in zip(texts[::-1], languages[::-1])] + [0]
        assert snapshot.matched_terms(tokens, asked).tolist() == expected
        assert max(expected) >= 2

