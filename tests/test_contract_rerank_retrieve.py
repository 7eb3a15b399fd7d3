"""Contracts of :class:`rag.protocols.Reranker` and :class:`rag.protocols.Retriever`: one suite each
that every implementation runs, over the index test corpus, asserting behaviour.

Rerankers (created by name through the registry): the learned LTR model and a cross-encoder.
Retrievers: the hybrid retriever with each fusion, with each reranker, and with every optional
stage (version collapse, cited-first, reference expansion, law boost) turned off.
"""

from __future__ import annotations

import pytest

from index_corpus import HashingEmbedder, corpus
from indexes.build import BuildOptions, build_from_documents
from indexes.protocols import SearchFilters
from indexes.snapshot import open_snapshot
from ingest.citations import parse_citation
from ltr_fixtures import train_ltr
from rag.protocols import Reranker, Retriever
from rag.rerank import create_reranker
from rag.retrieval import HybridRetriever
from rag.train import first_stage_retriever
from tiny_models import build_tiny_cross_encoder

ZH = "有人山寨我的产品怎么办"
EN = "whoever actively induces infringement of a patent"
QUERIES = [ZH, EN, "专利权 许可 实施", "bicycle brake caliper", "专利法第十一条 未经许可实施"]


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("index")
    embedder = HashingEmbedder()
    build_from_documents(root, corpus(), embedder=embedder, options=BuildOptions())
    snap = open_snapshot(root, embedder=embedder)
    yield snap
    snap.close()


@pytest.fixture(scope="module")
def rerankers(snapshot, tmp_path_factory) -> dict[str, Reranker]:
    ltr_dir = tmp_path_factory.mktemp("ltr")
    train_ltr(snapshot).save(ltr_dir)
    cross_encoder_dir = build_tiny_cross_encoder(tmp_path_factory.mktemp("ce") / "model")
    return {
        "ltr": create_reranker("ltr", store=snapshot.store, terms=snapshot, ltr_model_path=ltr_dir),
        "cross-encoder": create_reranker("cross-encoder", store=snapshot.store, terms=snapshot, reranker_path=cross_encoder_dir,
                                         device="cpu"),
    }


@pytest.fixture(params=["ltr", "cross-encoder"])
def reranker(request, rerankers) -> Reranker:
    return rerankers[request.param]


def _candidates(snapshot, query: str):
    first = first_stage_retriever(snapshot, candidates=20)
    return first.first_stage(first.analyze(query))


# --- Reranker --------------------------------------------------------------------------------------

def test_a_reranker_has_a_name_and_says_which_queries_it_serves(reranker) -> None:
    assert isinstance(reranker, Reranker)
    assert isinstance(reranker.name, str) and reranker.name
    assert all(isinstance(reranker.serves(q), bool) for q in QUERIES)
    assert reranker.serves(ZH)  # both were built for Chinese questions (the cross-encoder for any)


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("k", [1, 3, 50])
def test_rerank_orders_the_given_hits_and_keeps_k(snapshot, reranker, query, k) -> None:
    hits = _candidates(snapshot, query)
    assert hits, query
    given = list(hits)
    reranked = reranker.rerank(query, hits, k)
    assert hits == given  # the input is not changed
    assert len(reranked) == min(k, len(hits))
    assert {h.chunk.id for h in reranked} <= {h.chunk.id for h in hits}
    assert len({h.chunk.id for h in reranked}) == len(reranked)
    if not reranker.serves(query):
        assert reranked == hits[:k]  # a query it does not serve keeps its order
        return
    assert [h.rank for h in reranked] == list(range(1, len(reranked) + 1))
    assert [h.score for h in reranked] == sorted((h.score for h in reranked), reverse=True)
    assert all(h.source == "rerank" for h in reranked)
    before = {h.chunk.id: h for h in hits}
    for hit in reranked:  # what the first stage measured is kept alongside the new score
        assert set(before[hit.chunk.id].component_scores) <= set(hit.component_scores)
    assert reranker.rerank(query, hits, k) == reranked  # deterministic


def test_rerank_of_nothing_is_nothing(reranker) -> None:
    assert reranker.rerank(ZH, [], 5) == []


# --- Retriever -------------------------------------------------------------------------------------

RETRIEVERS = {
    "rrf": lambda snapshot, rerankers: HybridRetriever(snapshot),
    "weighted": lambda snapshot, rerankers: HybridRetriever(snapshot, fusion="weighted"),
    "ltr": lambda snapshot, rerankers: HybridRetriever(snapshot, reranker=rerankers["ltr"]),
    "cross-encoder": lambda snapshot, rerankers: HybridRetriever(snapshot, reranker=rerankers["cross-encoder"]),
    "bare": lambda snapshot, rerankers: HybridRetriever(snapshot, collapse_versions=False, expand_references=False,
                                                        cited_first=False, law_boost=False, clean_query=False),
}


@pytest.fixture(params=sorted(RETRIEVERS))
def retriever(request, snapshot, rerankers) -> Retriever:
    return RETRIEVERS[request.param](snapshot, rerankers)


def _ranked_and_expanded(hits):
    ranked = [h for h in hits if h.expanded_from is None]
    expanded = [h for h in hits if h.expanded_from is not None]
    return ranked, expanded


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("k", [1, 5])
def test_retrieve_returns_k_ranked_distinct_hits_then_their_references(snapshot, retriever, query, k) -> None:
    assert isinstance(retriever, Retriever)
    hits = retriever.retrieve(query, k)
    ranked, expanded = _ranked_and_expanded(hits)
    assert 1 <= len(ranked) <= k, query
    assert hits[:len(ranked)] == ranked  # references come after the ranked hits
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert len({h.chunk.id for h in hits}) == len(hits)
    by_id = {h.chunk.id: h.chunk for h in ranked}
    for hit in expanded:  # a reference is the unit a ranked hit cites
        citing = by_id[hit.expanded_from]
        assert parse_citation(hit.chunk.citation).unit_key in {parse_citation(r).unit_key for r in citing.references}
    assert retriever.retrieve(query, k) == hits  # deterministic


@pytest.mark.parametrize("filters", [SearchFilters(jurisdictions=frozenset({"US"})),
                                     SearchFilters(version_to="2010-01-01"),
                                     SearchFilters(kinds=frozenset({"patent"}))])
def test_retrieve_keeps_to_the_filters(snapshot, retriever, filters) -> None:
    for query in QUERIES:
        ranked, _ = _ranked_and_expanded(retriever.retrieve(query, 5, filters))
        for hit in ranked:
            document = snapshot.store.document(hit.chunk.document_id)
            assert filters.jurisdictions is None or document.jurisdiction in filters.jurisdictions
            assert filters.kinds is None or document.kind in filters.kinds
            assert filters.version_to is None or (document.version or "9999") <= filters.version_to


def test_retrieve_refuses_a_k_below_one_and_answers_a_blank_query_with_nothing(retriever) -> None:
    with pytest.raises(ValueError, match="k must be >= 1"):
        retriever.retrieve(ZH, 0)
    assert retriever.retrieve("   ", 5) == []
