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
