"""Citation verification and the support judges."""

from __future__ import annotations

import pytest
from rag_fixtures import ART_75, hits, lookup
from tiny_models import build_tiny_cross_encoder

from ipqa.errors import ConfigError
from rag.judges import CrossEncoderJudge, LexicalJudge, create_judge
from rag.verify import CitationVerifier, split_statements, verify_answer


@pytest.fixture(scope="module")
def judge() -> LexicalJudge:
    return LexicalJudge()


@pytest.fixture(scope="module")
def store():
    return lookup()


SOURCES = ("专利法 第十一条", "专利法 第七十五条", "35 U.S.C. § 271")


def by_number(verification):
    return {c.number: c for c in verification.citations}


# --- statements ----------------------------------------------------------------------------------


def test_split_statements_keeps_markers_with_their_sentence_and_skips_headings_and_notes():
    text = (
        "※ 未配置生成式模型。\n适用条款：\n"
        "未经许可实施专利构成侵权。[1] 科研使用不视为侵权[2]。\n"
        "The safe harbor covers FDA submissions [3]. It is narrow. [1, 3]\n"
        "- 专利法 第七十五条：「有下列情形之一的，不视为侵犯专利权：」[2]"
    )
    assert split_statements(text) == [
        "未经许可实施专利构成侵权。[1]",
        "科研使用不视为侵权[2]。",
        "The safe harbor covers FDA submissions [3].",
        "It is narrow.[1, 3]",
        "- 专利法 第七十五条：「有下列情形之一的，不视为侵犯专利权：」[2]",
    ]


def test_a_full_stop_inside_a_quotation_does_not_split_the_statement():
    text = "法律规定「发明专利权的期限为二十年。实用新型专利权的期限为十年。」[1]"
    assert split_statements(text) == [text]


# --- resolving -----------------------------------------------------------------------------------


def test_supported_markers_verify_with_a_verbatim_span(judge, store):
    sources = hits(*SOURCES)
    text = "专为科学研究和实验而使用有关专利的，不视为侵犯专利权[2]。"
    v = verify_answer(text, sources, store, judge)
    cite = by_number(v)[2]
    assert cite.verified and cite.problem is None and cite.support >= 0.9
    assert cite.citation == "专利法 第七十五条"
    assert cite.quoted_span == "（四）专为科学研究和实验而使用有关专利的；"
    assert cite.quoted_span in sources[1].chunk.text
    assert cite.chunk_id == sources[1].chunk.id and cite.document_id == sources[1].chunk.document_id
    assert v.statements[0].supported and v.statements[0].citation_numbers == (2,)


def test_marker_beyond_the_sources_is_unresolved(judge, store):
    v = verify_answer("侵权人应当承担赔偿责任[7]。", hits(*SOURCES), store, judge)
    cite = by_number(v)[7]
    assert (cite.verified, cite.problem, cite.chunk_id, cite.quoted_span) == (False, "unresolved", None, "")
    assert not v.statements[0].supported


def test_fabricated_written_citations_are_unresolved(judge, store):
    text = "专利法第九百条规定科研使用免责[2]。专利法第十一条第五款也有规定。根据《专利法》第七十五条第三款，科研免责[2]。"
    v = verify_answer(text, hits(*SOURCES), store, judge)
    unresolved = {c.citation for c in v.citations if c.problem == "unresolved"}
    assert unresolved == {"专利法第九百条", "专利法第十一条第五款", "《专利法》第七十五条第三款"}
    assert all(not c.verified and c.chunk_id is None for c in v.citations if c.problem == "unresolved")
    # numbered after the three sources, never colliding with one
    assert all(c.number > 3 for c in v.citations if c.problem == "unresolved")
    # a statement resting on a fabricated citation is not supported, whatever else it cites
    assert [s.supported for s in v.statements] == [False, False, False]


def test_written_citation_not_among_the_sources_resolves_in_the_store(judge, store):
    sources = hits("专利法 第十一条")
    v = verify_answer(
        "根据《中华人民共和国专利法》第四十二条，发明专利权的期限为二十年。", sources, store, judge
    )
    (cite,) = v.citations
    assert cite.number == 2 and cite.verified
    assert cite.citation == "专利法 第四十二条"
    assert cite.quoted_span.startswith("发明专利权的期限为二十年")


def test_written_citation_naming_a_source_uses_its_number_and_narrows_to_the_part(judge, store):
    sources = hits(*SOURCES)
    text = "Under 35 U.S.C. § 271(e)(1), uses reasonably related to submitting information to the FDA are exempt."
    v = verify_answer(text, sources, store, judge)
    (cite,) = v.citations
    assert cite.number == 3 and cite.verified
    assert cite.quoted_span.startswith("(e)(1) It shall not be an act of infringement")


def test_unsupported_sentence_is_flagged(judge, store):
    text = (
        "专为科学研究和实验而使用有关专利的，不视为侵犯专利权[2]。"
        "Patents cover abstract ideas and last forever [3]."
    )
    v = verify_answer(text, hits(*SOURCES), store, judge)
    ok, bad = v.statements
    assert ok.supported and not bad.supported and bad.support < 0.3
    assert by_number(v)[3].problem == "unsupported" and not by_number(v)[3].verified


def test_quote_not_in_the_cited_text_is_span_not_found(judge, store):
    text = "第七十五条规定：「为教学目的使用专利产品的，不视为侵犯专利权」[2]。"
    v = verify_answer(text, hits(*SOURCES), store, judge)
    assert by_number(v)[2].problem == "span_not_found"
    assert not v.statements[0].supported


def test_fabricated_marker_is_never_taken_for_a_written_citations_number(judge, store):
    # three sources; the written citation comes first, the fabricated [4] after it
    text = "根据专利法第四十二条，发明专利权的期限为二十年。专利权可以无限续展[4]。"
    v = verify_answer(text, hits(*SOURCES), store, judge)
    assert by_number(v)[4].problem == "unresolved"
    assert by_number(v)[5].citation == "专利法 第四十二条" and by_number(v)[5].verified


def test_uncited_sentence_is_not_supported(judge, store):
    v = verify_answer("The patent term is twenty years from filing.", hits(*SOURCES), store, judge)
    assert v.citations == ()
    assert [s.supported for s in v.statements] == [False]


def test_citations_inside_a_quotation_belong_to_the_quoted_text(judge, store):
    # the quoted article mentions 本法; nothing inside 「」 may become a citation of the answer
    text = "- 专利法 第十一条：「发明和实用新型专利权被授予后，除本法另有规定的以外，任何单位或者个人未经专利权人许可，都不得实施其专利」[1]"
    v = verify_answer(text, hits(*SOURCES), store, judge)
    assert [c.number for c in v.citations] == [1] and v.citations[0].verified


def test_nested_quotation_is_masked_whole(judge, store):
    # the quoted passage itself quotes a term; the citation inside it must not count as the answer's
    text = "- 35 U.S.C. § 101: \u201cWhoever invents a \u201cprocess\u201d under 35 U.S.C. § 271 may obtain a patent.\u201d [1]"
    from rag.verify import quotations

    assert quotations(text) == [
        "Whoever invents a \u201cprocess\u201d under 35 U.S.C. § 271 may obtain a patent."
    ]
    v = verify_answer(text, hits("35 U.S.C. § 101", "35 U.S.C. § 271"), store, judge)
    assert [c.number for c in v.citations] == [1]


def test_threshold_is_validated(judge, store):
    with pytest.raises(ValueError, match="threshold"):
        CitationVerifier(store, judge, threshold=1.5)


# --- judges --------------------------------------------------------------------------------------


def test_lexical_judge_scores_overlap_in_both_languages(judge):
    assert judge.support("专为科学研究而使用专利的不视为侵权", ART_75) > 0.7
    assert judge.support("专利权的期限为一百年", ART_75) < 0.3
    assert (
        judge.support(
            "Using a patented invention to prepare an FDA submission is not infringement",
            "It shall not be an act of infringement to use a patented invention solely for uses "
            "reasonably related to the submission of information to the FDA",
        )
        > 0.7
    )
    assert judge.support("Trademarks never expire", "It shall not be an act of infringement") == 0.0
    assert judge.support("[1]", ART_75) == 0.0  # nothing to support


def test_create_judge_by_name():
    assert create_judge("lexical").name == "lexical"
    with pytest.raises(ConfigError, match="valid names: cross-encoder, lexical, nli"):
        create_judge("oracle")
    with pytest.raises(ConfigError, match="IPQA_SUPPORT_JUDGE_PATH"):
        create_judge("nli")


@pytest.mark.parametrize("num_labels", [1, 3])
def test_cross_encoder_judge_loads_a_local_model_and_scores_in_unit_interval(tmp_path, num_labels):
    build_tiny_cross_encoder(tmp_path, num_labels=num_labels, sentences=["patent infringement safe harbor", ART_75])
    judge = create_judge("nli" if num_labels == 3 else "cross-encoder", model_path=tmp_path, device="cpu")
    assert isinstance(judge, CrossEncoderJudge)
    a = judge.support("scientific research use is not infringement", ART_75)
    b = judge.support("patents last forever", ART_75)
    assert 0.0 <= a <= 1.0 and 0.0 <= b <= 1.0
    assert a != b  # the model really reads its input
    if num_labels == 3:
        assert judge._entailment_index == 1


def test_cross_encoder_judge_refuses_a_missing_model(tmp_path):
    with pytest.raises(ConfigError, match="not a directory"):
        create_judge("cross-encoder", model_path=tmp_path / "nope")


# --- the same unit written differently; law names the index knows ------------------------------

CLAIM_3 = "3. The razor of claim 1, wherein the blade is coated with a fluoropolymer."
GUARANTEE_2 = "当事人在担保合同中约定担保合同的效力独立于主合同，或者约定担保人对主合同无效的法律后果承担担保责任，该有关担保独立性的约定无效。"
TREATY_15 = "外国作品的著作权人有权禁止进口其作品的下列复制品：\n(一)侵权复制品；\n(二)来自对其作品不予保护的国家的复制品。"
CRIMINAL_12_2 = (
    "如果刑法规定的某一犯罪只有一个法定刑幅度，法定最高刑或者最低刑是指该法定刑幅度的最高刑或者最低刑；"
    "如果刑法规定的某一犯罪有两个以上的法定刑幅度，法定最高刑或者最低刑是指具体犯罪行为应当适用的法定刑幅度的最高刑或者最低刑。"
)
ASSETS_TEXT = (
    "当事人因国有资产产权界定行为提起行政诉讼的，应当根据不同情况确定管辖法院。"
    "产权界定行为直接针对不动产作出的，由不动产所在地人民法院管辖。"
)
TREATY = "实施国际著作权条约的规定"
CRIMINAL_12 = "最高人民法院关于适用刑法第十二条几个问题的解释"
ASSETS = "最高人民法院关于国有资产产权管理行政案件管辖问题的解释"


def _more_corpus():
    from rag_fixtures import _parsed

    return [
        _parsed("patent", "US", "Coated razor", "en", "2015-01-06", [("US 8,927,118 B2, claim 3", CLAIM_3, ())]),
        _parsed(
            "statute", "CN", "最高人民法院关于适用《中华人民共和国民法典》有关担保制度的解释", "zh", "2021-01-01",
            [("最高人民法院关于适用《中华人民共和国民法典》有关担保制度的解释 第二条", GUARANTEE_2, ())],
        ),
        _parsed("statute", "CN", TREATY, "zh", "2020-11-29", [(f"{TREATY} 第十五条", TREATY_15, ())]),
        _parsed("statute", "CN", CRIMINAL_12, "zh", "1997-09-25", [(f"{CRIMINAL_12} 第二条", CRIMINAL_12_2, ())]),
        _parsed("statute", "CN", ASSETS, "zh", "2001-02-16", [(ASSETS, ASSETS_TEXT, ())]),
    ]


@pytest.fixture(scope="module")
def more():
    from ingest.lookup import InMemoryChunkLookup

    parsed = _more_corpus()
    chunks = {c.citation: c for p in parsed for c in p.chunks}
    return InMemoryChunkLookup(parsed), chunks, frozenset(p.document.title for p in parsed)


def _hits_of(chunks, *citations):
    from ipqa.domain import Hit

    return [Hit(chunks[c], score=1.0, rank=i) for i, c in enumerate(citations, 1)]


def test_a_written_patent_claim_without_kind_code_is_the_cited_source(judge, more):
    store, chunks, _ = more
    sources = _hits_of(chunks, "US 8,927,118 B2, claim 3")
    v = verify_answer("US 8,927,118, claim 3 covers a razor blade coated with a fluoropolymer [1].", sources, store, judge)
    # one citation: the written claim IS source [1] (its key), not a second copy numbered [2]
    assert [(c.number, c.verified) for c in v.citations] == [(1, True)]
    assert v.statements[0].citation_numbers == (1,)


def test_a_law_written_with_a_short_name_inside_a_title_is_the_source(judge, more):
    store, chunks, _ = more
    citation = "最高人民法院关于适用《中华人民共和国民法典》有关担保制度的解释 第二条"
    text = "依照《最高人民法院关于适用〈民法典〉有关担保制度的解释》第二条，约定担保独立于主合同的，该约定无效。"
    v = verify_answer(text, _hits_of(chunks, citation), store, judge)
    assert [(c.number, c.citation, c.verified) for c in v.citations] == [(1, citation, True)]


@pytest.mark.parametrize("citation, quote", [
    (f"{TREATY} 第十五条", "外国作品的著作权人有权禁止进口其作品的下列复制品："),
    (f"{CRIMINAL_12} 第二条", "法定最高刑或者最低刑是指具体犯罪行为应当适用的法定刑幅度的最高刑或者最低刑。"),
])
def test_known_law_names_keep_real_citations_whole(judge, more, citation, quote):
    store, chunks, titles = more
    text = f"- {citation}：「{quote}」[1]"  # what the extractive generator writes
    sources = _hits_of(chunks, citation)
    # without the index's law names the name is cut (国际著作权条约的规定 …, 刑法第十二条 + 几个问题的解释 …)
    # and reported as an unresolved, i.e. fabricated, citation
    assert any(c.problem == "unresolved" for c in verify_answer(text, sources, store, judge).citations)
    v = verify_answer(text, sources, store, judge, known_laws=titles)
    assert [(c.number, c.verified, c.problem) for c in v.citations] == [(1, True, None)]
    assert v.citations[0].quoted_span == quote


def test_canonical_citations_of_judicial_interpretations_resolve_to_their_own_chunk(more):
    # the three "resolver mismatches" of `ipqa eval answers`: whole-text interpretations cited by
    # title alone and an article of an interpretation whose title contains 刑法第十二条
    from ingest.citations import resolve

    store, chunks, _ = more
    for citation in (ASSETS, f"{CRIMINAL_12} 第二条"):
        assert [r.chunk.id for r in resolve(citation, store)] == [chunks[citation].id]


def test_known_law_titles_reads_the_statute_titles_of_a_store():
    from rag.verify import known_law_titles

    class Store:
        def __init__(self, documents):
            self.docs = documents
            self.calls = 0

        def documents(self, *, offset=0, limit=50, filters=None):
            self.calls += 1
            assert filters is not None and filters.kinds == frozenset({"statute"})
            return self.docs[offset : offset + limit]

    parsed = _more_corpus()
    store = Store([p.document for p in parsed if p.document.kind == "statute"] * 3)
    assert known_law_titles(store, page=5) == {TREATY, CRIMINAL_12, ASSETS, parsed[1].document.title}
    assert store.calls == 3  # 12 documents, 5 per page


def test_a_quoted_patent_paragraph_may_include_its_label(judge):
    # parsers put a paragraph's part after its label ("[0198] "); a written citation of the paragraph
    # narrows the evidence to the part, and the quotation of the paragraph with its label must still
    # be found in it
    from rag_fixtures import _parsed

    from ingest.lookup import InMemoryChunkLookup
    from ipqa.domain import Hit, Part

    text = (
        "[0198] Volunteers must be excluded from the trial if any of the following criteria are met:\n"
        "participation in another trial within 3 months before the start of the present trial"
    )
    parsed = _parsed("patent", "US", "Statin trial", "en", "2006-01-03",
                     [("US 6,982,157 B1, ¶ [0198]", text, (Part("[0198]", 7, len(text)),))])
    chunk = parsed.chunks[0]
    answer = (
        "- US 6,982,157 B1, ¶ [0198]: \u201c[0198] Volunteers must be excluded from the trial if any of the "
        "following criteria are met:\u201d \u2026 \u201cparticipation in another trial within 3 months\u201d [1]"
    )
    v = verify_answer(answer, [Hit(chunk, score=1.0, rank=1)], InMemoryChunkLookup([parsed]), judge)
    assert [(c.number, c.verified, c.problem) for c in v.citations] == [(1, True, None)]
