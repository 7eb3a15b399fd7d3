"""Hybrid retrieval over a small real index (BM25 + a hashing dense index): fusion, weights per
language, filters inside both indexes, version collapse, named-law search, query clean-up, and
cross-reference expansion."""

from __future__ import annotations

import pytest

from factories import make_chunk, make_hit
from index_corpus import built_snapshot
from indexes.protocols import SearchFilters
from ipqa.domain import Chunk, Hit
from rag.expansion import expand_references
from rag.query import LawNames, analyze_query, clean_query
from rag.retrieval import HybridRetriever, collapse_versions, fuse_rrf, fuse_weighted

BOTH = {"zh": {"bm25": 1.0, "dense": 1.0}, "en": {"bm25": 1.0, "dense": 1.0}}


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory):
    snap = built_snapshot(tmp_path_factory.mktemp("index"))
    yield snap
    snap.close()


def _hit(chunk_id: str, score: float, rank: int) -> Hit:
    chunk = make_chunk(f"cite {chunk_id}", "t", id=chunk_id, document_id="d", unit="text", language="en")
    return make_hit(chunk, score=score, rank=rank)


def _version(snapshot, hit: Hit) -> str | None:
    return snapshot.store.document(hit.chunk.document_id).version


# --- fusion arithmetic ---------------------------------------------------------------------------

def test_rrf_sums_weighted_reciprocal_ranks() -> None:
    lists = {"bm25": [_hit("a", 9, 1), _hit("b", 5, 2)], "dense": [_hit("b", 0.9, 1), _hit("c", 0.1, 2)]}
    fused = fuse_rrf(lists, {"bm25": 1.0, "dense": 0.5}, k=60)
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 0.5 / 61)
    assert fused["c"] == pytest.approx(0.5 / 62)


def test_weighted_fusion_min_max_normalises_each_list() -> None:
    lists = {"bm25": [_hit("a", 10, 1), _hit("b", 6, 2), _hit("c", 2, 3)], "dense": [_hit("c", 0.8, 1)],
             "empty": []}
    fused = fuse_weighted(lists, {"bm25": 0.7, "dense": 0.3})
    assert fused["a"] == pytest.approx(0.7)
    assert fused["b"] == pytest.approx(0.7 * 0.5)
    assert fused["c"] == pytest.approx(0.0 + 0.3 * 1.0)  # a one-hit list normalises to 1


# --- the query -----------------------------------------------------------------------------------

def test_clean_query_strips_filler_but_never_empties() -> None:
    assert clean_query("请问您好，公司不签劳动合同怎么办呢？") == "，公司不签劳动合同 ？"
    assert "可以" in clean_query("试用期可以解除合同吗")  # modal words with legal meaning stay
    assert clean_query("请问怎么办呢") == "请问怎么办呢"
    assert clean_query("What is patent infringement?") == "What is patent infringement?"


def test_law_names_found_longest_first() -> None:
    names = LawNames(["中华人民共和国民法典", "最高人民法院关于适用《中华人民共和国民法典》有关担保制度的解释",
                      "中华人民共和国劳动合同法", "中华人民共和国宪法"])
    assert names.find("《劳动合同法》第十条怎么理解") == ["劳动合同法"]
    # the interpretation's full name wins over the 民法典 inside it
    assert names.find("最高人民法院关于适用《民法典》有关担保制度的解释第二条") == [
        "最高人民法院关于适用民法典有关担保制度的解释"]
    assert names.find("民法典和劳动合同法") == ["民法典", "劳动合同法"]
    assert names.find("宪法规定") == []  # two-character names are too ambiguous to count
    assert names.titles(["民法典"]) == {"中华人民共和国民法典"}
    query = analyze_query("请问劳动合同法怎么规定的？", law_names=names)
    assert query.language == "zh" and query.laws == ("劳动合同法",) and "请问" not in query.lexical


# --- retrieval over the index --------------------------------------------------------------------

def test_chinese_query_uses_bm25_and_survives_an_embedder_without_chinese(snapshot) -> None:
    retriever = HybridRetriever(snapshot, weights=BOTH, expand_references=False)
    hits = retriever.retrieve("请问发明专利需要具备新颖性、创造性和实用性吗？", 3)
    assert hits[0].chunk.citation == "专利法 第二十二条"
    assert "dense" not in hits[0].component_scores  # the hashing embedder serves only English
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


def test_english_query_fuses_bm25_and_dense(snapshot) -> None:
    for fusion in ("rrf", "weighted"):
        retriever = HybridRetriever(snapshot, fusion=fusion, weights=BOTH, expand_references=False)
        hits = retriever.retrieve("whoever actively induces infringement", 5)
        top = hits[0]
        assert top.chunk.citation == "35 U.S.C. § 271"
        assert {"bm25", "dense", "fused"} <= set(top.component_scores)
        assert top.source == "hybrid"


def test_each_search_goes_list_depth_factor_deeper_than_the_candidates_fusion_keeps(snapshot) -> None:
    """A unit 4th in one list and 1st in the other gets both votes only if each list goes deep enough."""
    asked: list[int] = []

    class Recording:
        def __init__(self, inner) -> None:
            self._inner = inner

        def search_bm25_ids(self, query, k, filters=None):
            asked.append(k)
            return self._inner.search_bm25_ids(query, k, filters)

        def search_dense_ids(self, query, k, filters=None):
            asked.append(k)
            return self._inner.search_dense_ids(query, k, filters)

        def __getattr__(self, name):
            return getattr(self._inner, name)

    deep = HybridRetriever(Recording(snapshot), weights=BOTH, candidates=3, list_depth_factor=4,
                           expand_references=False, law_boost=False, cited_first=False)
    ranked = deep.first_stage_ranked(deep.analyze("whoever actively induces infringement"))
    assert set(asked) == {12} and len(ranked) == 3
    with pytest.raises(ValueError, match="list_depth_factor"):
        HybridRetriever(snapshot, list_depth_factor=0)


def test_weights_per_language_switch_a_retriever_off(snapshot) -> None:
    retriever = HybridRetriever(snapshot, weights={"en": {"bm25": 0.0, "dense": 1.0}}, expand_references=False)
    hits = retriever.retrieve("bicycle brake caliper", 5)
    assert hits and all("bm25" not in h.component_scores for h in hits)


def test_filters_reach_both_indexes(snapshot) -> None:
    retriever = HybridRetriever(snapshot, weights=BOTH, expand_references=False)
    us_only = SearchFilters(jurisdictions=frozenset({"US"}), kinds=frozenset({"statute"}))
    hits = retriever.retrieve("patent brake infringement", 10, us_only)
    assert hits and all(h.chunk.citation.startswith("35 U.S.C.") for h in hits)
    old = SearchFilters(version_to="2010-01-01")
    hits = retriever.retrieve("发明创造 实用新型 外观设计", 5, old)
    assert hits and all(_version(snapshot, h) == "2008-12-27" for h in hits)


def test_versions_collapse_to_the_newest_when_tied(snapshot) -> None:
    retriever = HybridRetriever(snapshot, expand_references=False)
    hits = retriever.retrieve("发明创造 实用新型 外观设计", 10)
    citations = [h.chunk.citation for h in hits]
    assert citations.count("专利法 第二条") == 1
    assert _version(snapshot, hits[citations.index("专利法 第二条")]) == "2020-10-17"
    uncollapsed = HybridRetriever(snapshot, expand_references=False, collapse_versions=False).retrieve(
        "发明创造 实用新型 外观设计", 10)
    assert [h.chunk.citation for h in uncollapsed].count("专利法 第二条") == 2


def test_collapse_keeps_the_better_placed_version() -> None:
    a = _hit("a", 2.0, 1)
    b = make_hit(make_chunk("cite a", "t", id="b", document_id="d2", unit="text", language="en"), score=1.0, rank=2)
    assert [h.chunk.id for h in collapse_versions([a, b])] == ["a"]


def test_a_named_law_brings_its_articles_in(snapshot) -> None:
    retriever = HybridRetriever(snapshot, expand_references=False)
    assert retriever.analyze("著作权法规定了哪些权利").laws == ("著作权法",)
    hits = retriever.retrieve("著作权法 权利", 3)
    assert hits[0].chunk.citation.startswith("著作权法")
    assert "bm25_law" in hits[0].component_scores


def test_empty_query_finds_nothing_and_bad_k_is_refused(snapshot) -> None:
    retriever = HybridRetriever(snapshot)
    assert retriever.retrieve("   ", 5) == []
    with pytest.raises(ValueError, match="k must be"):
        retriever.retrieve("专利", 0)
    with pytest.raises(ValueError, match="fusion"):
        HybridRetriever(snapshot, fusion="max")


# --- cross-reference expansion -------------------------------------------------------------------

def _chunk(snapshot, citation: str, version: str) -> Chunk:
    from ingest.citations import parse_citation

    key = parse_citation(citation).unit_key
    return next(c for c in snapshot.store.chunks_by_unit_key(key)
                if snapshot.store.document(c.document_id).version == version)


def test_expansion_appends_the_cited_article_of_the_same_version(snapshot) -> None:
    citing = _chunk(snapshot, "专利法 第十一条", "2008-12-27")
    assert citing.references == ("专利法 第二条",)
    other = _chunk(snapshot, "著作权法 第十条", "2020-11-11")
    ranked = [Hit(citing, 3.0, 1), Hit(other, 2.0, 2)]
    expanded = expand_references(ranked, snapshot.store)
    assert expanded[:2] == ranked  # never displaces the ranked hits
    assert len(expanded) == 3
    xref = expanded[2]
    assert xref.chunk.citation == "专利法 第二条" and xref.source == "xref"
    assert xref.expanded_from == citing.id and xref.rank == 3
    assert _version(snapshot, xref) == "2008-12-27"  # the citing article's own version


def test_expansion_adds_no_duplicates_and_respects_bounds(snapshot) -> None:
    citing = _chunk(snapshot, "专利法 第十一条", "2020-10-17")
    cited = _chunk(snapshot, "专利法 第二条", "2008-12-27")  # another version of the cited unit
    assert expand_references([Hit(citing, 2.0, 1), Hit(cited, 1.0, 2)], snapshot.store) == \
        [Hit(citing, 2.0, 1), Hit(cited, 1.0, 2)]
    assert len(expand_references([Hit(citing, 1.0, 1)], snapshot.store, total=0)) == 1
    citing_old = _chunk(snapshot, "专利法 第十一条", "2008-12-27")
    both = expand_references([Hit(citing, 2.0, 1), Hit(citing_old, 1.0, 2)], snapshot.store)
    assert len(both) == 3  # both versions cite 第二条; it comes in once


def test_retrieve_expands_references_after_the_top_k(snapshot) -> None:
    retriever = HybridRetriever(snapshot)
    hits = retriever.retrieve("未经专利权人许可 不得实施其专利", 1)
    assert hits[0].chunk.citation == "专利法 第十一条"
    assert [h.source for h in hits[1:]] == ["xref"] and hits[1].chunk.citation == "专利法 第二条"
    assert hits[1].expanded_from == hits[0].chunk.id


# --- loading only the chunks that are returned ---------------------------------------------------

class _CountingSnapshot:
    """The snapshot, counting the chunks retrieval loads from it."""

    def __init__(self, snapshot) -> None:
        self._snapshot = snapshot
        self.loaded = 0

    def __getattr__(self, name: str):
        return getattr(self._snapshot, name)

    def chunks_by_int_ids(self, int_ids):
        chunks = self._snapshot.chunks_by_int_ids(int_ids)
        self.loaded += len(chunks)
        return chunks


def _by_definition(retriever: HybridRetriever, query: str, k: int, filters=None) -> list[Hit]:
    """What ``retrieve`` means without a reranker: collapse the whole first stage, keep the top k."""
    depth = max(retriever.options.candidates, k)
    first = retriever.first_stage(retriever.analyze(query), filters, depth=depth)
    return collapse_versions(first, retriever.snapshot.store)[:k]


@pytest.mark.parametrize("fusion", ["rrf", "weighted"])
def test_retrieve_equals_collapsing_the_whole_first_stage(snapshot, fusion) -> None:
    # cited_first off: this checks the ranking path alone (cited units are tested below)
    retriever = HybridRetriever(snapshot, fusion=fusion, weights=BOTH, expand_references=False, candidates=20,
                                cited_first=False)
    queries = ["发明创造 实用新型 外观设计", "专利法 第二条 发明", "未经专利权人许可 不得实施其专利", "著作权法 权利",
               "patent infringement brake", "whoever actively induces infringement", "bicycle brake caliper"]
    filter_sets = (None, SearchFilters(version_to="2010-01-01"), SearchFilters(jurisdictions=frozenset({"US"})))
    for query in queries:
        for k in (1, 2, 3, 5, 30):
            for filters in filter_sets:
                expected = _by_definition(retriever, query, k, filters)
                assert retriever.retrieve(query, k, filters) == expected, (query, k, filters)


def test_a_tie_with_a_version_beyond_the_loaded_chunks_still_keeps_the_newest(snapshot) -> None:
    retriever = HybridRetriever(snapshot, expand_references=False)
    ranked = retriever.first_stage_ranked(retriever.analyze("发明创造 实用新型 外观设计"), depth=20)
    chunks = snapshot.chunks_by_int_ids(r.int_id for r in ranked)
    versions = {snapshot.store.document(chunks[r.int_id].document_id).version: r
                for r in ranked if chunks[r.int_id].citation == "专利法 第二条"}
    old, new = versions["2008-12-27"], versions["2020-10-17"]  # same text: a tie
    others = [r for r in ranked if r not in (old, new)]
    assert len(others) >= 3
    reordered = [old, *others, new]  # the newest version last, far beyond what k = 1 loads first
    top = retriever._top_units(reordered, 1)
    assert top[0].chunk.id == chunks[new.int_id].id
    assert top == collapse_versions(retriever._hits(reordered), snapshot.store)[:1]


def test_retrieve_loads_only_the_chunks_of_the_top_units(snapshot) -> None:
    counting = _CountingSnapshot(snapshot)
    retriever = HybridRetriever(counting, weights=BOTH, expand_references=False, candidates=50)
    query = "patent infringement brake"
    candidates = len(retriever.first_stage_ranked(retriever.analyze(query)))
    counting.loaded = 0
    hits = retriever.retrieve(query, 1)
    assert len(hits) == 1 and candidates >= 6
    assert counting.loaded <= 2  # the first batch (2 k); no other version of the top unit exists
    counting.loaded = 0
    assert len(retriever.first_stage(retriever.analyze(query))) == candidates
    assert counting.loaded == candidates  # first_stage itself still gives every candidate's chunk


def test_a_unit_the_question_cites_comes_first_in_its_newest_version(snapshot) -> None:
    question = "著作权 实用新型 专利法第二条规定的发明是什么"
    plain = HybridRetriever(snapshot, expand_references=False, cited_first=False).retrieve(question, 5)
    hits = HybridRetriever(snapshot, expand_references=False).retrieve(question, 5)
    assert hits[0].chunk.citation == "专利法 第二条" and hits[0].source == "cited"
    assert snapshot.store.document(hits[0].chunk.document_id).version == "2020-10-17"
    units = [hit.chunk.citation for hit in hits]
    assert len(units) == len(set(units)) == 5  # the cited article is not repeated in another version
    assert [h.chunk.citation for h in plain if h.chunk.citation != "专利法 第二条"][:4] == units[1:]


def test_a_cited_unit_outside_the_filters_is_not_forced_in(snapshot) -> None:
    retriever = HybridRetriever(snapshot, expand_references=False)
    hits = retriever.retrieve("专利法第二条 patent", 3, SearchFilters(jurisdictions=frozenset({"US"})))
    assert all(hit.source != "cited" for hit in hits)


# --- the domain prior and the reranker's fields ---------------------------------------------------
class _ReversingReranker:
    """Puts the first stage upside down, and records whether it was asked."""

    def __init__(self) -> None:
        self.calls = 0

    def serves(self, query: str) -> bool:
        return True

    def rerank(self, query, hits, k):
        self.calls += 1
        reversed_hits = list(reversed(hits))
        return [type(h)(chunk=h.chunk, score=float(len(hits) - i), rank=i + 1, source="rerank",
                        component_scores=h.component_scores) for i, h in enumerate(reversed_hits)][:k]


def _field_model():
    from rag.fields import FieldModel

    return FieldModel.fit([("zh", "patent", ["专利", "发明", "新颖性", "专利权"]),
                           ("zh", "copyright", ["著作权", "作品"]), ("zh", "civil", ["合同", "债务"])], min_count=1)


def test_the_reranker_serves_only_its_fields_and_the_prior_ranks_the_rest(snapshot) -> None:
    from rag.domain_prior import DomainPrior

    reranker = _ReversingReranker()
    retriever = HybridRetriever(snapshot, weights=BOTH, expand_references=False, reranker=reranker,
                                domain_prior=DomainPrior(_field_model()), reranker_fields=frozenset({"civil"}))
    hits = retriever.retrieve("发明专利需要具备新颖性吗", 3)  # a patent question: not the reranker's field
    assert reranker.calls == 0
    assert hits[0].chunk.citation == "专利法 第二十二条"
    assert "field_prior" in hits[0].component_scores
    retriever.retrieve("合同 债务", 3)  # a civil question: reranked
    assert reranker.calls == 1
    everywhere = HybridRetriever(snapshot, weights=BOTH, expand_references=False, reranker=reranker,
                                 domain_prior=DomainPrior(_field_model()), reranker_fields=None)
    everywhere.retrieve("发明专利需要具备新颖性吗", 3)
    assert reranker.calls == 2
