"""Citation verification and the support judges."""

from __future__ import annotations

import pytest
from rag_fixtures import ART_75, hits, lookup

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


def _tiny_cross_encoder(directory, num_labels: int) -> None:
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer()
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(
        ["patent infringement safe harbor", ART_75],
        trainers.WordPieceTrainer(
            vocab_size=200, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        ),
    )
    from tokenizers.processors import TemplateProcessing

    tok.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    labels = {0: "contradiction", 1: "entailment", 2: "neutral"} if num_labels == 3 else {0: "LABEL_0"}
    # initializer_range 0.5 instead of 0.02: with the default the random model's outputs hardly
    # depend on the input, and the test could not tell that the input is read at all.
    config = BertConfig(
        vocab_size=fast.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=num_labels,
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
        initializer_range=0.5,
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(directory)
    fast.save_pretrained(directory)


@pytest.mark.parametrize("num_labels", [1, 3])
def test_cross_encoder_judge_loads_a_local_model_and_scores_in_unit_interval(tmp_path, num_labels):
    _tiny_cross_encoder(tmp_path, num_labels)
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
