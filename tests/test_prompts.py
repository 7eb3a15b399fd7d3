"""Prompt templates: numbered sources, the answer structure of each type, in Chinese and English."""

from __future__ import annotations

import pytest
from rag_fixtures import hits

from ipqa.domain import QuestionType
from ipqa.errors import InputError
from rag.prompts import build_prompt, question_language

SOURCES = ("专利法 第十一条", "专利法 第七十五条", "35 U.S.C. § 271")

# What each type's structure must ask for (zh, en).
STRUCTURE = {
    QuestionType.DOCTRINE: (["定义", "构成要件", "法律依据"], ["Definition", "Elements", "Authorities"]),
    QuestionType.CONDUCT: (
        ["适用条款", "要件分析", "例外与抗辩", "专利法 第七十五条", "结论"],
        [
            "Applicable provisions",
            "Elements applied",
            "Exceptions and defences",
            "35 U.S.C. § 271(e)(1)",
            "Conclusion",
        ],
    ),
    QuestionType.CASE: (
        ["案件事实", "争议焦点", "规则", "适用", "可能结果"],
        ["Facts", "Issues", "Rules", "Application", "Likely outcome"],
    ),
    QuestionType.DRAFTING: (["草稿", "须满足的规定"], ["Draft", "Requirements it must satisfy"]),
}


@pytest.mark.parametrize("qtype", list(QuestionType))
@pytest.mark.parametrize("language", ["zh", "en"])
def test_each_type_and_language_sets_the_answer_structure(qtype, language):
    question = "科研使用专利是否侵权？" if language == "zh" else "Is research use of a patent infringement?"
    prompt = build_prompt(question, qtype, hits(*SOURCES))
    assert prompt.language == language and prompt.question_type is qtype and prompt.question == question
    for heading in STRUCTURE[qtype][0 if language == "zh" else 1]:
        assert heading in prompt.user, heading
    # every statement must cite its numbered source
    assert "[1]" in prompt.system and ("来源编号" in prompt.system or "number of the source" in prompt.system)


def test_sources_are_numbered_in_order_with_their_canonical_citations():
    sources = hits(*SOURCES)
    prompt = build_prompt("科研使用专利是否侵权？", "conduct", sources)
    assert prompt.sources == tuple(sources)
    positions = [
        prompt.user.index(f"[{n}] {hit.chunk.citation}\n{hit.chunk.text[:20]}")
        for n, hit in enumerate(sources, 1)
    ]
    assert positions == sorted(positions)
    assert prompt.user.index("问题: 科研使用专利是否侵权？") > positions[-1]


def test_long_sources_are_cut_and_marked():
    prompt = build_prompt("Is it infringement?", "conduct", hits("35 U.S.C. § 271"), max_source_chars=50)
    assert hits("35 U.S.C. § 271")[0].chunk.text[:50].rstrip() + " …" in prompt.user


def test_no_sources_is_said_plainly():
    assert "(no sources were retrieved)" in build_prompt("What is § 101?", "doctrine", []).user


def test_language_can_be_forced_and_is_validated():
    assert build_prompt("专利法第十一条是什么？", "doctrine", [], language="en").language == "en"
    with pytest.raises(InputError, match="language: unsupported prompt language 'fr'"):
        build_prompt("Qu'est-ce qu'un brevet ?", "doctrine", [], language="fr")
    with pytest.raises(InputError, match="question: must not be empty"):
        build_prompt("  ", "doctrine", [])


def test_question_language():
    assert question_language("35 U.S.C. § 271(e)(1) 的安全港是什么？") == "zh"
    assert question_language("What does 专利法 mean in the safe harbor of 35 U.S.C. § 271?") == "en"
    assert question_language("") == "en"


# --- fitting a prompt into a model's context -------------------------------------------------------

ALL = ("专利法 第十一条", "专利法 第四十二条", "专利法 第七十五条", "35 U.S.C. § 101", "35 U.S.C. § 271")


def _chars(prompt) -> int:
    """A stand-in tokenizer: one token per character of what the model reads."""
    return len(prompt.system) + len(prompt.user)


def test_fit_prompt_keeps_every_source_when_they_fit():
    from rag.prompts import fit_prompt

    full = build_prompt("专利权的期限是多久？", "doctrine", hits(*ALL))
    fitted = fit_prompt("专利权的期限是多久？", "doctrine", hits(*ALL), count_tokens=_chars, budget=_chars(full))
    assert fitted == full


def test_fit_prompt_drops_the_lowest_ranked_sources_and_renumbers_consistently():
    from rag.prompts import fit_prompt

    question = "专利权的期限是多久？"
    sources = hits(*ALL)
    three = build_prompt(question, "doctrine", sources[:3])
    fitted = fit_prompt(question, "doctrine", sources, count_tokens=_chars, budget=_chars(three) + 5)
    assert fitted.sources == tuple(sources[:3])  # the best three, in rank order
    assert _chars(fitted) <= _chars(three) + 5
    assert "[3] 专利法 第七十五条" in fitted.user and "[4]" not in fitted.user
    assert f"问题: {question}" in fitted.user  # the question is never cut


def test_fit_prompt_cuts_the_best_source_when_it_alone_is_too_long():
    from rag.prompts import MIN_SOURCE_CHARS, fit_prompt

    question = "专利侵权的例外有哪些？"
    bare = build_prompt(question, "doctrine", [])
    budget = _chars(bare) + MIN_SOURCE_CHARS + 60
    fitted = fit_prompt(question, "doctrine", hits("专利法 第七十五条", "专利法 第十一条"),
                        count_tokens=_chars, budget=budget)
    assert [h.chunk.citation for h in fitted.sources] == ["专利法 第七十五条"]
    assert _chars(fitted) <= budget and " …" in fitted.user  # marked as cut
    assert fitted.user.count("有下列情形之一的，不视为侵犯专利权") == 1


def test_fit_prompt_refuses_a_question_that_alone_exceeds_the_budget():
    from rag.prompts import fit_prompt

    question = "专利" * 200
    with pytest.raises(InputError, match=r"question: the question and instructions alone take \d+ tokens"):
        fit_prompt(question, "doctrine", hits(*ALL), count_tokens=_chars, budget=300)
