"""BM25 index: scores, mixed languages, exact filters, persistence and the token cache."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import bm25s
import numpy as np
import pytest

import indexes.bm25 as bm25_module
from indexes.bm25 import BM25_FORMAT, Bm25Index
from indexes.embedding_cache import TokenCache
from indexes.tokenize import Tokenizer, tokenize
from ipqa.errors import IndexUnavailableError

CORPUS = [
    (101, "zh", "专利法 第四十二条 发明专利权的期限为二十年，实用新型专利权的期限为十年，自申请日起计算。"),
    (102, "zh", "专利法 第十一条 发明和实用新型专利权被授予后，任何单位或者个人未经专利权人许可，都不得实施其专利。"),
    (103, "zh", "著作权法 第十条 著作权包括发表权、署名权、修改权、保护作品完整权。"),
    (104, "zh", "商标法 第三十九条 注册商标的有效期为十年，自核准注册之日起计算。"),
    (105, "zh", "专利法 第六十五条 侵犯专利权的赔偿数额按照权利人因被侵权所受到的实际损失确定。"),
    (201, "en", "35 U.S.C. § 154 The term of a patent shall be 20 years from the date on which the application was filed."),
    (202, "en", "35 U.S.C. § 271 Whoever without authority makes, uses, offers to sell, or sells any patented "
                "invention infringes the patent."),
    (203, "en", "17 U.S.C. § 106 The owner of copyright has the exclusive rights to reproduce the copyrighted work."),
    (204, "en", "15 U.S.C. § 1058 A trademark registration shall remain in force for ten years."),
    (205, "en", "35 U.S.C. § 284 Upon finding for the claimant the court shall award damages adequate to compensate "
                "for the infringement of the patent."),
]
IDS = [row[0] for row in CORPUS]
LANGUAGES = [row[1] for row in CORPUS]
TEXTS = [row[2] for row in CORPUS]


def build(**options) -> Bm25Index:
    return Bm25Index.build(IDS, TEXTS, LANGUAGES, k1=1.2, b=0.75, **options)


class CountingTokenizer(Tokenizer):
    """Counts how many texts are tokenised (to prove the cache avoids it)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def pieces(self, text: str, language: str) -> list[str]:
        self.calls += 1
        return super().pieces(text, language)


def test_scores_equal_bm25s_lucene_on_the_same_tokens() -> None:
    index = build()
    reference = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    reference.index([tokenize(text, language) for text, language in zip(TEXTS, LANGUAGES)], show_progress=False)
    for query, language in [("专利权的期限", "zh"), ("patent infringement damages", "en"), ("十年 注册商标", "zh")]:
        expected = reference.get_scores(tokenize(query, language))
        got = dict(index.search(query, len(IDS), language=language))
        for row, score in enumerate(expected):
            assert got.get(IDS[row], 0.0) == pytest.approx(float(score), rel=1e-5, abs=1e-6)


def test_queries_find_their_unit_in_a_mixed_corpus() -> None:
    index = build()
    assert index.search("发明专利权的期限是多少年", 3)[0][0] == 101
    assert index.search("未经专利权人许可实施其专利", 3)[0][0] == 102
    assert index.search("how long is the term of a patent", 3)[0][0] == 201
    assert index.search("who infringes a patented invention", 3)[0][0] == 202
    results = index.search("著作权 发表权", 5)
    assert [doc_id for doc_id, _ in results][0] == 103
    assert all(doc_id < 200 for doc_id, _ in results)  # a Chinese query matches only Chinese units here
    scores = [score for _, score in results]
    assert scores == sorted(scores, reverse=True)


def test_filter_that_excludes_the_best_match_still_returns_k_results() -> None:
    index = build()
    query = "shall patent copyright trademark"  # matches all five English units
    unfiltered = index.search(query, 10)
    assert len(unfiltered) == 5
    best = unfiltered[0][0]
    allowed = np.array([doc_id for doc_id in IDS if doc_id != best], dtype=np.int64)
    filtered = index.search(query, 3, allowed_ids=allowed)
    assert len(filtered) == 3
    assert best not in [doc_id for doc_id, _ in filtered]
    assert set(doc_id for doc_id, _ in filtered) <= set(allowed.tolist())
    # the top-k is computed among the allowed units: their scores are unchanged
    assert filtered == [pair for pair in unfiltered if pair[0] != best][:3]


def test_a_filter_array_changed_in_place_is_not_served_the_previous_mask(monkeypatch) -> None:
    index = build()
    query = "shall patent copyright trademark"
    allowed = np.array([201, 202], dtype=np.int64)
    assert {i for i, _ in index.search(query, 5, allowed_ids=allowed)} == {201, 202}
    allowed[:] = [203, 204]  # the same (writable) array, other ids
    assert {i for i, _ in index.search(query, 5, allowed_ids=allowed)} == {203, 204}
    frozen = np.array([205], dtype=np.int64)
    frozen.flags.writeable = False  # as the store hands its cached arrays out
    hashed = []
    real_hash = bm25_module.hashlib.blake2b
    monkeypatch.setattr(bm25_module.hashlib, "blake2b", lambda *a, **k: hashed.append(1) or real_hash(*a, **k))
    assert [i for i, _ in index.search(query, 5, allowed_ids=frozen)] == [205]
    assert [i for i, _ in index.search(query, 5, allowed_ids=frozen)] == [205]
    assert len(hashed) == 1  # the second search knew the read-only array by identity
    index.search(query, 5, allowed_ids=allowed)
    index.search(query, 5, allowed_ids=allowed)
    assert len(hashed) == 3  # a writable one is hashed every time


def test_filter_to_nothing_matching_returns_nothing() -> None:
    index = build()
    assert index.search("专利", 5, allowed_ids=np.array([201, 202], dtype=np.int64)) == []
    assert index.search("专利", 5, allowed_ids=np.array([], dtype=np.int64)) == []


def test_query_without_known_terms_returns_nothing() -> None:
    index = build()
    assert index.search("zzzz qqqq", 5) == []
    assert index.search("the of and", 5) == []  # stop words only
    with pytest.raises(ValueError, match="k must be positive"):
        index.search("patent", 0)


@pytest.mark.parametrize("order", ["ascending", "shuffled"])
def test_matched_terms_count_each_ids_distinct_query_tokens_as_tokenising_its_text_does(
        tmp_path: Path, order: str) -> None:
    rows = CORPUS if order == "ascending" else [CORPUS[i] for i in (7, 2, 9, 0, 5, 3, 8, 1, 6, 4)]
    built = Bm25Index.build([r[0] for r in rows], [r[2] for r in rows], [r[1] for r in rows])
    built.save(tmp_path)
    for index in (built, Bm25Index.load(tmp_path, mmap=True)):
        for query, language in [("专利权的期限是多少年？侵犯专利权怎么赔偿", "zh"),
                                ("How long does a patent or a trademark registration last?", "en")]:
            tokens = tokenize(query, language) + ["never-in-any-text"]
            asked = [999, *reversed(IDS), 101]  # an unknown id, every id, one twice
            texts = {r[0]: (r[2], r[1]) for r in CORPUS}  # each text tokenised in its own language
            expected = [len(set(tokens) & set(tokenize(*texts[i]))) if i in texts else 0 for i in asked]
            got = index.matched_terms(tokens, asked)
            assert got.tolist() == expected and got.dtype == np.int32
            assert max(expected) >= 2 and min(expected) == 0  # the comparison is not all zeros
    assert built.matched_terms([], IDS).tolist() == [0] * len(IDS)
    assert built.matched_terms(["专利"], []).tolist() == []


def test_language_argument_overrides_detection() -> None:
    index = build()
    assert index.query_tokens("patent 专利", language="zh") == ["patent", "专利"]
    assert index.query_tokens("patents", language="en") == ["patent"]


def test_save_and_load_give_the_same_results_without_pickle(tmp_path: Path) -> None:
    index = build()
    index.save(tmp_path / "bm25")
    files = {path.name for path in (tmp_path / "bm25").iterdir()}
    assert {"ids.npy", "ipqa_bm25.json", "vocab.index.json", "params.index.json", "data.csc.index.npy"} <= files
    np.load(tmp_path / "bm25" / "ids.npy", allow_pickle=False)  # plain arrays only
    loaded = Bm25Index.load(tmp_path / "bm25")
    assert len(loaded) == len(IDS)
    for query in ["专利权的期限", "patent damages", "商标"]:
        assert loaded.search(query, 4) == index.search(query, 4)


def test_incomplete_or_foreign_index_is_refused(tmp_path: Path) -> None:
    build().save(tmp_path / "bm25")
    meta_path = tmp_path / "bm25" / "ipqa_bm25.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "tokenizer": "some-other-tokenizer"}))
    with pytest.raises(IndexUnavailableError, match="some-other-tokenizer"):
        Bm25Index.load(tmp_path / "bm25")
    meta_path.unlink()
    with pytest.raises(IndexUnavailableError, match="ipqa_bm25.json"):
        Bm25Index.load(tmp_path / "bm25")


def test_bad_build_input_is_refused_with_the_problem_named() -> None:
    with pytest.raises(ValueError, match="duplicate ids"):
        Bm25Index.build([1, 1], ["a b", "c d"], ["en", "en"])
    with pytest.raises(ValueError, match="2 ids, 1 texts"):
        Bm25Index.build([1, 2], ["a b"], ["en", "en"])
    with pytest.raises(ValueError, match="'fr'"):
        Bm25Index.build([1], ["brevet"], ["fr"])


def test_empty_index_builds_saves_and_answers_nothing(tmp_path: Path) -> None:
    index = Bm25Index.build([], [], [])
    assert index.search("专利", 3) == []
    index.save(tmp_path / "empty")
    assert Bm25Index.load(tmp_path / "empty").search("patent", 3) == []


def test_token_cache_avoids_retokenising_unchanged_texts(tmp_path: Path) -> None:
    cache = TokenCache(tmp_path / "tokens.sqlite")
    tokenizer = CountingTokenizer()
    first = build(token_cache=cache, tokenizer=tokenizer)
    assert tokenizer.calls == len(TEXTS)
    second = build(token_cache=TokenCache(tmp_path / "tokens.sqlite"), tokenizer=tokenizer)
    assert tokenizer.calls == len(TEXTS)  # all cached, none tokenised again
    for query in ["专利权的期限", "patent damages"]:
        assert second.search(query, 5) == first.search(query, 5)
    changed = list(TEXTS)
    changed[0] = changed[0] + " 续展"
    tokenizer.calls = 0  # (the searches above tokenised their queries)
    rebuilt = Bm25Index.build(IDS, changed, LANGUAGES, token_cache=cache, tokenizer=tokenizer)
    assert tokenizer.calls == 1  # only the changed text
    assert rebuilt.search("续展", 3)[0][0] == 101


def test_token_cache_that_lost_its_vocabulary_still_builds_correctly(tmp_path: Path) -> None:
    cache = TokenCache(tmp_path / "tokens.sqlite")
    expected = build(token_cache=cache)
    with sqlite3.connect(tmp_path / "tokens.sqlite") as connection:
        connection.execute("DELETE FROM vocabulary")
    rebuilt = build(token_cache=TokenCache(tmp_path / "tokens.sqlite"))
    assert rebuilt.search("专利权的期限", 5) == expected.search("专利权的期限", 5)


@pytest.mark.shared
def test_real_patent_law_article_is_found(shared_data: Path) -> None:
    from indexes.text import indexable_text
    from ingest.parsers.cn_statute import CnStatuteParser
    from ingest.protocols import SourceText

    path = next(p for p in sorted((shared_data / "cn-law").rglob("专利法*.md")) if p.name.startswith("专利法"))
    parsed = list(CnStatuteParser().parse_text(SourceText(path=str(path), text=path.read_text("utf-8"),
                                                          format="md")))
    chunks = [(chunk, document.document) for document in parsed for chunk in document.chunks]
    index = Bm25Index.build(list(range(len(chunks))), [indexable_text(c, d) for c, d in chunks],
                            [str(c.language) for c, _ in chunks])
    best = chunks[index.search("发明专利权的期限是多少年", 1)[0][0]][0]
    assert best.citation.endswith("第四十二条"), best.citation


# --- incremental updates ------------------------------------------------------------------------

def _arrays(index: Bm25Index) -> tuple:
    scores = index._retriever.scores
    return (index.ids, scores["data"], scores["indices"], scores["indptr"], index._retriever.vocab_dict)


def _assert_identical(got: Bm25Index, expected: Bm25Index) -> None:
    for a, b in zip(_arrays(got), _arrays(expected)):
        if isinstance(a, dict):
            assert a == b
        else:
            assert a.dtype == b.dtype and np.array_equal(a, b)


def _fresh(rows: list[tuple[int, str, str]]) -> Bm25Index:
    rows = sorted(rows)
    return Bm25Index.build([r[0] for r in rows], [r[2] for r in rows], [r[1] for r in rows])


@pytest.mark.parametrize("seed", range(12))
def test_update_gives_the_same_arrays_as_a_fresh_build(tmp_path: Path, seed: int) -> None:
    import random

    rng = random.Random(seed)
    rows = list(CORPUS)
    rng.shuffle(rows)
    base = rows[: rng.randint(0, len(rows))]
    remove = rng.sample(base, rng.randint(0, len(base)))
    add = rng.sample(rows[len(base):], rng.randint(0, len(rows) - len(base)))
    _fresh(base).save(tmp_path)
    updated = Bm25Index.updated(tmp_path, remove_ids=[r[0] for r in remove], add_ids=[r[0] for r in add],
                                add_texts=[r[2] for r in add], add_languages=[r[1] for r in add])
    assert updated is not None
    final = sorted(set(base) - set(remove) | set(add))
    _assert_identical(updated, _fresh(final))
    assert updated.search("专利权的期限", 3) == _fresh(final).search("专利权的期限", 3)


def test_update_counts_equal_counting_afresh_on_random_corpora() -> None:
    """The pair merge (bisection inside column segments, row renumbering, vocabulary changes)
    against counting the resulting corpus from scratch, on many small random corpora."""
    from indexes.bm25 import _count_terms, _updated_counts

    def count(ids: np.ndarray, docs: list[np.ndarray]):
        order = np.argsort(ids)
        docs = [docs[i] for i in order]
        flat = np.concatenate(docs) if docs else np.empty(0, np.int64)
        hashes = np.unique(flat)
        return ids[order], _count_terms(docs, hashes, np.searchsorted(hashes, flat))

    rng = np.random.default_rng(3)
    for _ in range(200):
        vocabulary = rng.integers(-2**62, 2**62, int(rng.integers(1, 40)))
        n = int(rng.integers(0, 60))
        ids = rng.choice(10**6, n + 40, replace=False).astype(np.int64)
        docs = [rng.choice(vocabulary, int(rng.integers(0, 30))) for _ in range(n + 40)]
        base = list(range(int(rng.integers(0, n + 1))))
        added = list(range(len(base), len(base) + int(rng.integers(0, 40))))
        removed = [int(i) for i in rng.choice(base, int(rng.integers(0, len(base) + 1)), replace=False)
                   ] if base else []
        base_ids, base_counts = count(ids[base], [docs[i] for i in base])
        got_ids, got = _updated_counts(base_counts, base_ids, ids[removed], ids[added],
                                       [docs[i] for i in added])
        final = [i for i in base if i not in removed] + added
        expected_ids, expected = count(ids[final], [docs[i] for i in final])
        assert np.array_equal(got_ids, expected_ids)
        for field in ("hashes", "column_start", "rows", "tf", "lengths"):
            assert np.array_equal(getattr(got, field), getattr(expected, field)), field


def _rewrite_meta(directory: Path, **changes) -> None:
    meta_path = directory / "ipqa_bm25.json"
    meta = json.loads(meta_path.read_text())
    meta.update(changes)
    meta = {key: value for key, value in meta.items() if value is not None}
    meta_path.write_text(json.dumps(meta))


def test_a_saved_index_records_the_bm25s_version_and_format_that_wrote_it(tmp_path: Path) -> None:
    build().save(tmp_path / "bm25")
    meta = json.loads((tmp_path / "bm25" / "ipqa_bm25.json").read_text())
    assert meta["bm25s_version"] == bm25s.__version__
    assert meta["format_version"] == BM25_FORMAT


@pytest.mark.parametrize("changes,named", [
    ({"bm25s_version": "0.2.14"}, "written by bm25s '0.2.14', this ipqa runs bm25s " + bm25s.__version__),
    ({"bm25s_version": "1.0.0"}, "written by bm25s '1.0.0'"),
    ({"bm25s_version": None}, "written by bm25s None"),
    ({"format_version": BM25_FORMAT + 1}, f"ipqa BM25 format {BM25_FORMAT + 1}"),
    ({"format_version": None}, "ipqa BM25 format None"),
    ({"format_version": None, "bm25s_version": None}, "written before ipqa recorded the bm25s version"),
])
def test_an_index_written_by_another_bm25s_or_format_is_refused_with_the_advice_to_rebuild(
        tmp_path: Path, changes: dict, named: str) -> None:
    build().save(tmp_path / "bm25")
    _rewrite_meta(tmp_path / "bm25", **changes)
    with pytest.raises(IndexUnavailableError) as refused:
        Bm25Index.load(tmp_path / "bm25")
    assert named in str(refused.value)
    assert "`ipqa index rebuild" in str(refused.value)
    # an incremental job does not build on it either (it rebuilds from the store instead)
    assert Bm25Index.updated(tmp_path / "bm25", remove_ids=[101], add_ids=[], add_texts=[],
                             add_languages=[]) is None


def test_another_patch_release_of_the_same_bm25s_minor_version_is_accepted(tmp_path: Path) -> None:
    build().save(tmp_path / "bm25")
    major, minor = bm25s.__version__.split(".")[:2]
    _rewrite_meta(tmp_path / "bm25", bm25s_version=f"{major}.{minor}.999")
    assert len(Bm25Index.load(tmp_path / "bm25")) == len(IDS)


def test_update_refuses_unknown_or_duplicate_ids(tmp_path: Path) -> None:
    build().save(tmp_path)
    with pytest.raises(ValueError, match="not in the base index"):
        Bm25Index.updated(tmp_path, remove_ids=[999], add_ids=[], add_texts=[], add_languages=[])
    with pytest.raises(ValueError, match="already in the index"):
        Bm25Index.updated(tmp_path, remove_ids=[], add_ids=[101], add_texts=["x"], add_languages=["en"])


def test_update_of_a_base_without_term_counts_or_with_other_parameters_is_declined(tmp_path: Path) -> None:
    build().save(tmp_path / "with")
    Bm25Index.load(tmp_path / "with").save(tmp_path / "without")  # a loaded index has no counts to save
    args = dict(remove_ids=[101], add_ids=[], add_texts=[], add_languages=[])
    assert Bm25Index.updated(tmp_path / "without", **args) is None
    assert Bm25Index.updated(tmp_path / "with", k1=1.5, **args) is None
    assert Bm25Index.updated(tmp_path / "missing", **args) is None
    assert Bm25Index.updated(tmp_path / "with", **args) is not None


def test_update_tokenises_only_the_added_texts(tmp_path: Path) -> None:
    build().save(tmp_path)
    tokenizer = CountingTokenizer()
    updated = Bm25Index.updated(tmp_path, remove_ids=[], add_ids=[301], add_texts=["专利法 第二十二条 新颖性 创造性"],
                                add_languages=["zh"], tokenizer=tokenizer)
    assert tokenizer.calls == 1
    assert updated.search("新颖性", 3)[0][0] == 301
