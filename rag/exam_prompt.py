"""The prompt for a multiple-choice exam question (the patent agent exam): used by ``ipqa eval exam``
and by the exam direction of ``ipqa sft build``, so that a model is trained on exactly the prompt it
is examined with."""

from __future__ import annotations

from typing import Mapping, Sequence

from ipqa.domain import Hit, QuestionType
from rag.protocols import Prompt

SYSTEM = ("你是一名正在参加全国专利代理师资格考试（专利法律知识）的考生。请根据中国专利法律法规作答。"
          "先可以简要分析，最后一行必须写成“答案：”后接所选选项的字母，例如“答案：B”或“答案：ACD”。")
SINGLE = "本题为单项选择题，只有一个正确答案。"
MULTIPLE = "本题为多项选择题，有两个或两个以上正确答案，多选、少选、错选均不得分。"
SOURCE_CHARS = 800  # provisions are cut shorter than in answers: an exam prompt carries five of them


def build_exam_prompt(question: str, options: Mapping[str, str], multiple: bool,
                      sources: Sequence[Hit] = ()) -> Prompt:
    """Provisions (rag mode), the question, its options, and the answer format."""
    from rag.prompts import format_source

    parts = []
    if sources:
        parts.append("参考法条：\n" + "\n\n".join(format_source(n, hit, max_chars=SOURCE_CHARS)
                                              for n, hit in enumerate(sources, start=1)))
    listed = "\n".join(f"{letter}. {text}" for letter, text in sorted(options.items()))
    parts.append(f"{MULTIPLE if multiple else SINGLE}\n题目：{question}\n{listed}")
    parts.append("答案：")
    return Prompt(system=SYSTEM, user="\n\n".join(parts), sources=tuple(sources), language="zh",
                  question_type=QuestionType.DOCTRINE, question=question)


def retrieval_query(question: str, options: Mapping[str, str]) -> str:
    """What rag mode searches for: the question and its options (options often name the rule)."""
    return question + " " + " ".join(options[k] for k in sorted(options))
