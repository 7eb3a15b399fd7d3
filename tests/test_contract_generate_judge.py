"""Contracts of :class:`rag.protocols.Generator` and :class:`rag.protocols.SupportJudge`: one suite each
that every implementation runs, asserting behaviour.

Generators (created by name through the registry): ``extractive``, ``local`` (a tiny random GPT-2
from tests/tiny_models.py) and ``openai`` (a local chat-completions server). Support judges:
``lexical``, ``cross-encoder`` and ``nli`` (tiny random models) and the evaluation's ``llm`` judge
over the chat-completions server.
"""

from __future__ import annotations

import math

import pytest

from chat_server import serve_chat_completions
from evals.judges import LlmJudge
from ipqa.domain import QuestionType
from rag.generators import GeneratorOptions, create_generator
from rag.judges import create_judge
from rag.prompts import build_prompt
from rag.protocols import Generator, Prompt, SupportJudge
from rag_fixtures import ART_11, ART_75, SEC_271_A, hits
from tiny_models import build_tiny_causal_lm, build_tiny_cross_encoder

REPLY = "依照专利法第七十五条第（四）项，专为科学研究和实验而使用有关专利的，不视为侵犯专利权[1]。"
PROMPTS = {
    "conduct-zh": build_prompt("为科学研究使用他人专利是否构成侵权？", QuestionType.CONDUCT, hits("专利法 第七十五条")),
    "doctrine-en": build_prompt("What is direct infringement?", QuestionType.DOCTRINE, hits("35 U.S.C. § 271")),
    "no-sources": build_prompt("专利权的期限是多久？", QuestionType.DOCTRINE, []),
}


@pytest.fixture(scope="module")
def chat_endpoint():
    with serve_chat_completions(REPLY) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def tiny_lm_dir(tmp_path_factory):
    texts = [text for prompt in PROMPTS.values() for text in (prompt.system, prompt.user)]
    return build_tiny_causal_lm(tmp_path_factory.mktemp("lm") / "model", texts=texts)


GENERATORS = {
    "extractive": lambda endpoint, lm: create_generator("extractive"),
    "local": lambda endpoint, lm: create_generator("local", GeneratorOptions(llm_path=lm, max_new_tokens=12,
                                                                             device="cpu")),
    "openai": lambda endpoint, lm: create_generator("openai", GeneratorOptions(openai_base_url=endpoint,
                                                                               openai_model="tiny")),
}


@pytest.fixture(scope="module", params=sorted(GENERATORS))
def generator(request, chat_endpoint, tiny_lm_dir) -> Generator:
    return GENERATORS[request.param](chat_endpoint, tiny_lm_dir)


# --- Generator -------------------------------------------------------------------------------------

def test_a_generator_has_a_name(generator) -> None:
    assert isinstance(generator, Generator)
    assert isinstance(generator.name, str) and generator.name


@pytest.mark.parametrize("prompt_name", sorted(PROMPTS))
def test_streamed_pieces_make_up_the_generated_text(generator, prompt_name) -> None:
    prompt: Prompt = PROMPTS[prompt_name]
    pieces = list(generator.stream(prompt))
    assert pieces and all(isinstance(piece, str) and piece for piece in pieces)
    text = generator.generate(prompt)
    assert isinstance(text, str) and text.strip()
    assert "".join(pieces) == text  # deterministic at temperature 0: the stream is the answer
    assert generator.generate(prompt) == text


# --- SupportJudge ----------------------------------------------------------------------------------

PAIRS = [
    ("专为科学研究和实验而使用有关专利的，不视为侵犯专利权。", ART_75),
    ("任何单位或者个人未经专利权人许可，都不得实施其专利。", ART_11),
    ("Whoever without authority makes a patented invention infringes the patent.", SEC_271_A),
    ("Patents last forever.", ART_11),
    ("x", "y"),
    ("专利" * 400, SEC_271_A * 5),  # longer than any model's input: cut, never an error
]


@pytest.fixture(scope="module")
def judges(tmp_path_factory, chat_endpoint) -> dict[str, SupportJudge]:
    sentences = [statement for statement, _ in PAIRS[:4]] + [ART_75, ART_11, SEC_271_A]
    relevance = build_tiny_cross_encoder(tmp_path_factory.mktemp("ce") / "model", sentences=sentences)
    nli = build_tiny_cross_encoder(tmp_path_factory.mktemp("nli") / "model", num_labels=3, sentences=sentences)
    return {
        "lexical": create_judge("lexical"),
        "cross-encoder": create_judge("cross-encoder", model_path=relevance, device="cpu"),
        "nli": create_judge("nli", model_path=nli, device="cpu"),
        "llm": LlmJudge(create_generator("openai", GeneratorOptions(openai_base_url=chat_endpoint,
                                                                    openai_model="tiny"))),
    }


@pytest.fixture(params=["cross-encoder", "lexical", "llm", "nli"])
def judge(request, judges) -> SupportJudge:
    return judges[request.param]


def test_a_judge_has_a_name(judge) -> None:
    assert isinstance(judge, SupportJudge)
    assert isinstance(judge.name, str) and judge.name


@pytest.mark.parametrize("statement,evidence", PAIRS)
def test_support_is_a_deterministic_number_in_the_unit_interval(judge, statement, evidence) -> None:
    score = judge.support(statement, evidence)
    assert isinstance(score, float) and math.isfinite(score) and 0.0 <= score <= 1.0
    assert judge.support(statement, evidence) == score


@pytest.mark.parametrize("statement,evidence", [("", ART_11), ("专利权受保护。", ""), ("   ", "\n"), ("", "")])
def test_empty_statement_or_evidence_is_supported_by_nothing(judge, statement, evidence) -> None:
    assert judge.support(statement, evidence) == 0.0
