"""One model per language behind one index: vectors routed by language, cached per model, and dense
search comparing a query only with documents of its own language."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index_corpus import HashingEmbedder, corpus
from indexes.build import BuildOptions, build_from_documents
from indexes.protocols import SearchFilters
from indexes.routed_embedder import LanguageRoutedEmbedder, part_for, routes_languages
from indexes.snapshot import open_snapshot
from ipqa.errors import ConfigError


def _routed() -> tuple[LanguageRoutedEmbedder, HashingEmbedder, HashingEmbedder]:
    english = HashingEmbedder("en-model", 64, frozenset({"en"}))
    chinese = HashingEmbedder("zh-model", 32, frozenset({"zh"}))
    return LanguageRoutedEmbedder({"en": english, "zh": chinese}), english, chinese


def test_texts_go_to_the_model_of_their_language_and_are_padded() -> None:
    routed, english, chinese = _routed()
    assert routed.dimension == 64 and routed.languages == {"en", "zh"}
    assert routed.name == "en=en-model+zh=zh-model"
    vectors = routed.encode_document(["patent term", "专利权的期限"])
    assert np.allclose(vectors[0], english.encode_document(["patent term"])[0])
    assert np.allclose(vectors[1, :32], chinese.encode_document(["专利权的期限"])[0])
    assert not vectors[1, 32:].any()
    assert part_for(routed, "zh") is chinese and part_for(english, "zh") is english
    assert routes_languages(routed) and not routes_languages(english)


def test_a_part_must_serve_its_language() -> None:
    english = HashingEmbedder("en-model", 64, frozenset({"en"}))
    with pytest.raises(ConfigError, match="serves \\['en'\\], not 'zh'"):
        LanguageRoutedEmbedder({"en": english, "zh": english})
    with pytest.raises(ConfigError, match="two or more languages"):
        LanguageRoutedEmbedder({"en": english})


def test_build_caches_per_model_and_search_stays_in_the_query_language(tmp_path: Path) -> None:
    english = HashingEmbedder("en-model", 64, frozenset({"en"}))
    build_from_documents(tmp_path / "a", corpus(), embedder=english, options=BuildOptions())
    routed, _, chinese = _routed()
    routed_english = routed.part("en")
    # the English model's vectors of the first build are reused: only Chinese text is embedded now
    shared_cache = tmp_path / "a"
    build_from_documents(shared_cache, corpus(), embedder=routed, options=BuildOptions())
    assert routed_english.encoded_documents == 0
    assert chinese.encoded_documents > 0
    snapshot = open_snapshot(shared_cache, embedder=routed)
    try:
        zh = snapshot.search_dense("专利权 发明", 50)
        en = snapshot.search_dense("patent invention", 50)
        assert zh and all(str(hit.chunk.language) == "zh" for hit in zh)
        assert en and all(str(hit.chunk.language) == "en" for hit in en)
        # the fast unrestricted search gives exactly what a search restricted to the language gives
        for query, language in (("专利权 发明", "zh"), ("patent invention", "en")):
            restricted = snapshot.search_dense_ids(query, 3, SearchFilters(languages=frozenset({language})))
            fast = snapshot.search_dense_ids(query, 3)
            # the same scores (ties may come in another order)
            assert [round(score, 5) for _, score in fast] == [round(score, 5) for _, score in restricted]
            assert {i for i, score in fast if score > restricted[-1][1] + 1e-6} == \
                {i for i, score in restricted if score > restricted[-1][1] + 1e-6}
    finally:
        snapshot.close()


def test_the_fast_search_serves_when_it_can_and_hands_over_when_its_top_misses_allowed_ids(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    routed, _, _ = _routed()
    build_from_documents(tmp_path / "f", corpus(), embedder=routed, options=BuildOptions())
    snapshot = open_snapshot(tmp_path / "f", embedder=routed)
    try:
        fast_results = []
        real = snapshot._search_own_language
        monkeypatch.setattr(snapshot, "_search_own_language",
                            lambda *a: fast_results.append(real(*a)) or fast_results[-1])
        hits = snapshot.search_dense_ids("专利权 发明", 3)
        assert fast_results and fast_results[-1] == hits and len(hits) == 3  # served by the fast search
        zh = snapshot.store.allowed_int_ids(SearchFilters(languages=frozenset({"zh"})))
        # an allowed id its unrestricted top cannot hold (no vector): None, the caller restricts the search
        unreachable = np.append(zh, np.int64(zh.max() + 1))
        assert real("专利权 发明", len(unreachable), unreachable) is None
        assert real("专利权 发明", len(zh), zh) is not None
        assert real("专利权 发明", 3, np.empty(0, dtype=np.int64)) == []
    finally:
        snapshot.close()


def test_a_date_leaves_out_the_versions_not_in_force_from_the_fast_search_too(tmp_path: Path) -> None:
    from factories import Unit, parsed_document

    def version(year: str, effective: str, text: str):
        return parsed_document("中华人民共和国示例法", [Unit("示例法 第一条", text), Unit("示例法 第二条", f"{year}年的专利权期限。")],
                               version=f"{year}-01-01", metadata={"effective": effective})

    documents = [*corpus(), version("2010", "2010-02-01", "专利权 发明 二〇一〇年。"),
                 version("2023", "2024-01-20", "专利权 发明 二〇二三年。")]
    routed, _, _ = _routed()
    build_from_documents(tmp_path / "v", documents, embedder=routed, options=BuildOptions())
    snapshot = open_snapshot(tmp_path / "v", embedder=routed)
    try:
        for as_of, left_out_year in (("2015-06-01", "2023"), ("2024-06-01", "2010")):
            filters = SearchFilters(as_of=as_of)
            left_out = snapshot.store.out_of_force_int_ids(as_of)
            assert len(left_out) == 2
            fast = snapshot.search_dense_ids("专利权 发明", 50, filters)
            assert fast and not {i for i, _ in fast} & left_out
            texts = [chunk.text for chunk in snapshot.chunks_by_int_ids(i for i, _ in fast).values()]
            assert not any(left_out_year in text for text in texts)
            # the same scores as the search restricted to the language and the date by the id selector
            restricted = snapshot.search_dense_ids("专利权 发明", 5, SearchFilters(languages=frozenset({"zh"}),
                                                                              as_of=as_of))
            assert [round(s, 5) for _, s in fast[:5]] == [round(s, 5) for _, s in restricted]
            bm25 = snapshot.search_bm25_ids("专利权 发明", 50, filters)
            assert bm25 and not {i for i, _ in bm25} & left_out
    finally:
        snapshot.close()


def test_a_candidates_dense_score_comes_only_from_its_own_languages_model(tmp_path: Path) -> None:
    routed, _, chinese = _routed()
    build_from_documents(tmp_path / "index", corpus(), embedder=routed, options=BuildOptions())
    snapshot = open_snapshot(tmp_path / "index", embedder=routed)
    try:
        ids, _, languages = snapshot.store.index_rows()
        zh = [int(i) for i, language in zip(ids, languages) if language == "zh"]
        en = [int(i) for i, language in zip(ids, languages) if language == "en"]
        query = "专利权 侵权"
        scores = snapshot.dense_cosines(query, zh + en)
        # another language's vectors live in another model's space: never scored against this query
        assert set(scores) == set(zh)
        best = snapshot.search_dense_ids(query, 1)[0]
        assert scores[best[0]] == pytest.approx(best[1], abs=1e-5)
    finally:
        snapshot.close()
