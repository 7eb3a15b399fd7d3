"""Tokenisation for BM25, language detection, and what is indexed for a chunk."""

from __future__ import annotations

import threading

import pytest

from factories import make_chunk, make_document
from indexes.text import detect_language, indexable_text
from indexes.tokenize import TOKENIZER_ID, Tokenizer, tokenize


def test_chinese_is_segmented_into_words_without_stop_words_or_punctuation() -> None:
    tokens = tokenize("中华人民共和国专利法第十一条：发明和实用新型专利权被授予后，任何单位或者个人未经许可，都不得实施其专利。",
                      "zh")
    assert {"专利法", "第十一条", "实用新型", "专利权", "授予", "不得", "实施"} <= set(tokens)
    assert not {"和", "的", "或者", "：", "，", "。"} & set(tokens)
    # not one token per clause (what a whitespace/regex tokenizer would give)
    assert max(len(token) for token in tokens) <= 7


def test_legal_modal_words_are_kept() -> None:
    assert {"应当", "可以", "不得"} <= set(tokenize("申请人应当提交说明书，可以修改，但不得超出范围", "zh"))


def test_english_is_lowercased_stemmed_and_stop_words_removed() -> None:
    tokens = tokenize("The Patents were INFRINGED by the infringer under Section 271", "en")
    assert tokens[:2] == ["patent", "were"]
    assert "infring" in tokens and "271" in tokens
    assert "the" not in tokens and "by" not in tokens


def test_each_script_is_handled_whatever_the_language() -> None:
    english_with_chinese = tokenize("the 专利法 requires novelty", "en")
    assert "专利法" in english_with_chinese and "novelti" in english_with_chinese
    chinese_with_english = tokenize("根据35 U.S.C. 271，patents可以被侵犯", "zh")
    assert {"35", "271", "patent"} <= set(chinese_with_english)


def test_full_width_letters_and_digits_match_ascii() -> None:
    assert tokenize("ｐａｔｅｎｔ １２３", "en") == tokenize("patent 123", "en")


def test_unknown_language_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'fr'"):
        tokenize("brevet", "fr")


def test_rjieba_and_jieba_agree() -> None:
    rjieba = pytest.importorskip("rjieba")
    import jieba

    for sentence in ["发明专利权的期限为二十年，实用新型专利权的期限为十年，均自申请日起计算。",
                     "最高人民法院关于审理侵犯专利权纠纷案件应用法律若干问题的解释",
                     "著作权人许可他人以本法第十条规定的方式使用作品，可以获得报酬。"]:
        assert rjieba.cut(sentence) == jieba.lcut(sentence)


def test_tokenizer_is_safe_to_share_between_threads() -> None:
    tokenizer = Tokenizer()
    texts = [("patents infringing inventions claimed", "en"), ("专利权人许可他人实施专利", "zh")] * 50
    expected = [tokenizer.tokenize(text, language) for text, language in texts]
    results: list[list[list[str]]] = []

    def work() -> None:
        results.append([tokenizer.tokenize(text, language) for text, language in texts])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4
    assert tokenizer.id == TOKENIZER_ID


@pytest.mark.parametrize(("text", "language"), [
    ("专利权的期限是多久？", "zh"),
    ("专利法 section 11 是什么", "zh"),
    ("What does 专利法 say about novelty?", "en"),
    ("Is a business method patentable under 35 U.S.C. 101?", "en"),
    ("第11条", "zh"),
    ("§ 271", "en"),
    ("", "en"),
])
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_indexable_text_has_title_citation_and_text_in_that_order() -> None:
    document = make_document("中华人民共和国专利法")
    chunk = make_chunk("专利法 第四十二条", "第四十二条 发明专利权的期限为二十年。", document_id=document.id)
    text = indexable_text(chunk, document)
    assert text.split("\n") == ["中华人民共和国专利法", "专利法 第四十二条", "第四十二条 发明专利权的期限为二十年。"]
    # the law's name counts twice: the title-field boost the docstring explains
    assert tokenize(text, "zh").count("专利法") == 2
