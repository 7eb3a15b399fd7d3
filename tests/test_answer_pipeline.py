"""The answering pipeline (rag/pipeline.py): stages wired together, abstention, timings, streaming.

(tests/test_pipeline.py belongs to the ingest pipeline.)"""

from __future__ import annotations

from typing import Iterator

import pytest
from rag_fixtures import FixedRetriever, LookupStore, hits

from indexes.protocols import SearchFilters
from ipqa.domain import Answer, Hit, QuestionType
from ipqa.errors import InputError
from rag.generators import GeneratorError
from rag.generators.extractive import ExtractiveGenerator
from rag.judges import LexicalJudge
from rag.pipeline import Answerer
from rag.protocols import Answerer as AnswererProtocol
from rag.protocols import Prompt

SOURCES = ("专利法 第十一条", "专利法 第七十五条", "35 U.S.C. § 271")


class ScriptedGenerator:
    """Says a fixed text in pieces and records the prompts it was given."""

    name = "scripted"

    def __init__(self, pieces: list[str], fail_after: int | None = None) -> None:
        self.pieces = pieces
        self.fail_after = fail_after
        self.prompts: list[Prompt] = []

    def generate(self, prompt: Prompt) -> str:
        return "".join(self.stream(prompt))

    def stream(self, prompt: Prompt) -> Iterator[str]:
        self.prompts.append(prompt)
        for i, piece in enumerate(self.pieces):
            if self.fail_after is not None and i == self.fail_after:
                raise GeneratorError("http://llm:8000/v1/chat/completions: HTTP 500: boom")
            yield piece


@pytest.fixture(scope="module")
def judge() -> LexicalJudge:
    return LexicalJudge()


@pytest.fixture(scope="module")
def store() -> LookupStore:
    return LookupStore()


def make(generator, judge, store, sources=SOURCES, **kwargs) -> tuple[Answerer, FixedRetriever]:
    retriever = FixedRetriever(hits(*sources))
    return Answerer(retriever, generator, judge, store, **kwargs), retriever


def test_answer_runs_every_stage_and_records_timings(judge, store):
    generator = ScriptedGenerator(["专为科学研究和实验而使用有关专利的，", "不视为侵犯专利权[2]。"])
    answerer, retriever = make(generator, judge, store, top_k=3)
    assert isinstance(answerer, AnswererProtocol)
    filters = SearchFilters(jurisdictions=frozenset({"CN"}))
    answer = answerer.answer("为科学研究使用他人专利是否构成侵权？", filters=filters)
    assert retriever.calls == [("为科学研究使用他人专利是否构成侵权？", 3, filters)]
    (prompt,) = generator.prompts
    assert prompt.question_type is QuestionType.CONDUCT and prompt.language == "zh"
    assert answer.question_type is QuestionType.CONDUCT
    assert answer.generator == "scripted" and not answer.abstained and answer.abstain_reason is None
    assert [c.number for c in answer.citations] == [2] and answer.citations[0].verified
    assert answer.evidence == tuple(hits(*SOURCES))
    assert set(answer.timings) >= {
        "classify_ms",
        "retrieve_ms",
        "prompt_ms",
        "generate_ms",
        "first_token_ms",
        "verify_ms",
        "total_ms",
    }
    assert answer.timings["total_ms"] >= answer.timings["generate_ms"] >= 0


def test_caller_type_and_k_override_the_defaults(judge, store):
    generator = ScriptedGenerator(["Draft: …"])
    answerer, retriever = make(generator, judge, store)
    answer = answerer.answer("Is research use an infringement?", question_type="drafting", k=2)
    assert (
        answer.question_type is QuestionType.DRAFTING
        and generator.prompts[0].question_type is QuestionType.DRAFTING
    )
    assert retriever.calls[0][1] == 2 and len(answer.evidence) == 2


def test_stream_answer_yields_the_pieces_then_the_answer(judge, store):
    pieces = [
        "Under 35 U.S.C. § 271(e)(1), ",
        "uses reasonably related to FDA submissions ",
        "are exempt [3].",
    ]
    answerer, _ = make(ScriptedGenerator(pieces), judge, store)
    items = list(answerer.stream_answer("What is the safe harbor?"))
    assert items[:-1] == pieces
    answer = items[-1]
    assert isinstance(answer, Answer) and answer.text == "".join(pieces)
    assert answer.citations[0].citation == "35 U.S.C. § 271" and answer.citations[0].verified


def test_no_evidence_abstains_without_generating(judge, store):
    generator = ScriptedGenerator(["never said"])
    answerer, _ = make(generator, judge, store, sources=())
    answer = answerer.answer("What is a patent?", filters=SearchFilters(kinds=frozenset({"judgment"})))
    assert answer.abstained and answer.abstain_reason == (
        "no evidence: retrieval found no provision for the question within the filters"
    )
    assert generator.prompts == [] and answer.text == "" and answer.citations == ()


def test_weak_evidence_abstains(judge, store):
    answerer, _ = make(ScriptedGenerator(["x [1]"]), judge, store, min_hit_score=5.0)
    answer = answerer.answer("What is a patent?")
    assert answer.abstained and "below the threshold 5.0" in answer.abstain_reason


def test_answer_whose_citations_all_fail_abstains_and_keeps_the_flags(judge, store):
    answerer, _ = make(ScriptedGenerator(["专利法第九百条规定专利永久有效[7]。"]), judge, store)
    answer = answerer.answer("专利权的期限是多久？")
    assert (
        answer.abstained
        and answer.abstain_reason == "no citation of the answer could be verified (unresolved)"
    )
    assert {c.problem for c in answer.citations} == {"unresolved"}
    assert answer.statements[0].supported is False


def test_uncited_answer_abstains(judge, store):
    answerer, _ = make(ScriptedGenerator(["Patents are great."]), judge, store)
    answer = answerer.answer("What is a patent?")
    assert answer.abstained and "cites no source" in answer.abstain_reason


def test_generator_failure_becomes_an_abstention_naming_the_error(judge, store):
    answerer, _ = make(ScriptedGenerator(["a", "b"], fail_after=1), judge, store)
    items = list(answerer.stream_answer("What is a patent?"))
    answer = items[-1]
    assert items[:-1] == ["a"]
    assert answer.abstained and "HTTP 500: boom" in answer.abstain_reason and answer.text == "a"


@pytest.mark.parametrize(
    "question,k,message",
    [
        ("", None, "question: must not be empty"),
        ("x" * 21, None, "question: is 21 characters long; the limit is 20"),
        ("What is a patent?", 0, "k: must be >= 1, got 0"),
    ],
)
def test_bad_input_is_refused_with_its_name(judge, store, question, k, message):
    answerer, _ = make(ExtractiveGenerator(), judge, store, max_question_chars=20)
    with pytest.raises(InputError, match=message):
        answerer.answer(question, k=k)


def test_build_answerer_wires_the_configured_backends(judge, store):
    from types import SimpleNamespace

    from ipqa.errors import ConfigError
    from ipqa.settings import Settings
    from rag.pipeline import build_answerer

    snapshot = SimpleNamespace(store=store)
    retriever = FixedRetriever(hits(*SOURCES))
    settings = Settings(
        generator="openai",
        openai_base_url="http://127.0.0.1:9/v1",
        top_k=4,
        support_threshold=0.5,
        max_question_chars=100,
    )
    answerer = build_answerer(settings, snapshot, retriever=retriever)
    assert answerer.generator.name == "openai" and answerer.judge.name == "lexical"
    assert (answerer.top_k, answerer.verifier.threshold, answerer.max_question_chars) == (4, 0.5, 100)
    assert build_answerer(Settings(), snapshot, retriever=retriever).generator.name == "extractive"
    with pytest.raises(ConfigError, match="unknown generator 'gpt'"):
        build_answerer(Settings(generator="gpt"), snapshot, retriever=retriever)
    with pytest.raises(ConfigError, match="IPQA_SUPPORT_JUDGE_PATH"):
        build_answerer(Settings(support_judge="nli"), snapshot, retriever=retriever)


# --- weak evidence: settings and the support of the answer -----------------------------------------


def test_min_evidence_score_setting_reaches_the_answerer(judge, store):
    from types import SimpleNamespace

    from ipqa.settings import Settings
    from rag.pipeline import build_answerer

    snapshot = SimpleNamespace(store=store)
    retriever = FixedRetriever(hits(*SOURCES))  # best hit scores 1.0
    strict = build_answerer(Settings(min_evidence_score=1.5), snapshot, retriever=retriever)
    answer = strict.answer("为科学研究使用他人专利是否构成侵权？")
    assert answer.abstained and "below the threshold 1.5" in answer.abstain_reason
    default = build_answerer(Settings(), snapshot, retriever=retriever)
    assert default.min_hit_score is None
    assert not default.answer("为科学研究使用他人专利是否构成侵权？").abstained


def test_no_score_cut_by_default_even_for_negative_reranker_scores(judge, store):
    """The LTR reranker scores in logits, often below 0: without a configured cut nothing abstains
    for its score alone (a default of 0.0 once made every reranked answer abstain)."""
    from types import SimpleNamespace

    from ipqa.settings import Settings
    from rag.pipeline import build_answerer

    negative = [Hit(chunk=h.chunk, score=-3.0, rank=h.rank, source="rerank") for h in hits(*SOURCES)]
    answerer = build_answerer(Settings(), SimpleNamespace(store=store), retriever=FixedRetriever(negative))
    assert not answerer.answer("为科学研究使用他人专利是否构成侵权？").abstained


def test_answer_with_no_supported_statement_abstains_with_the_best_support(judge, store):
    # [2] is real and supports the words, so it verifies; but the one statement also rests on a
    # fabricated article, so no statement is supported: verified citations alone do not make an answer
    text = "依照专利法第九百条，专为科学研究和实验而使用有关专利的，不视为侵犯专利权[2]。"
    answerer, _ = make(ScriptedGenerator([text]), judge, store)
    answer = answerer.answer("为科学研究使用他人专利是否构成侵权？")
    assert any(c.verified for c in answer.citations)  # the old rule would have answered
    assert answer.abstained
    assert answer.abstain_reason.startswith("no statement of the answer is supported by what it cites")
    assert "threshold 0.3" in answer.abstain_reason
    assert {c.problem for c in answer.citations} == {None, "unresolved"}  # the flags are kept


def test_a_supported_statement_is_enough_to_answer(judge, store):
    text = "专为科学研究和实验而使用有关专利的，不视为侵犯专利权[2]。Patents last forever [3]."
    answerer, _ = make(ScriptedGenerator([text]), judge, store)
    answer = answerer.answer("为科学研究使用他人专利是否构成侵权？")
    assert not answer.abstained and [s.supported for s in answer.statements] == [True, False]


def test_answerer_reads_the_law_titles_of_its_store_once():
    from rag.verify import known_law_titles

    class Store(LookupStore):
        calls = 0

        def documents(self, *, offset=0, limit=50, filters=None):
            type(self).calls += 1
            from rag_fixtures import corpus

            return [p.document for p in corpus()][offset : offset + limit]

    store = Store()
    answerer, _ = make(ExtractiveGenerator(), LexicalJudge(), store)
    assert answerer.verifier.known_laws == known_law_titles(Store()) == {
        "中华人民共和国专利法", "Title 35, United States Code — Patents"
    }
    calls = Store.calls
    answerer.answer("为科学研究使用他人专利是否构成侵权？")
    answerer.answer("专利权的期限是多久？")
    assert Store.calls == calls  # not per answer


def test_build_answerer_shares_the_models_it_is_given(judge, store):
    """A service answering over several index versions passes one generator, judge and classifier
    to every build_answerer call: nothing is loaded or trained again per version."""
    from types import SimpleNamespace

    from ipqa.settings import Settings
    from rag.pipeline import build_answerer
    from rag.question_types import QuestionTypeClassifier

    classifier = QuestionTypeClassifier().fit()
    generator = ExtractiveGenerator()
    snapshot = SimpleNamespace(store=store)
    answerers = [build_answerer(Settings(), snapshot, retriever=FixedRetriever(hits(*SOURCES)),
                                generator=generator, judge=judge, classifier=classifier) for _ in range(2)]
    assert all(a.classifier is classifier and a.generator is generator and a.judge is judge for a in answerers)
    assert answerers[0].answer("为科学研究使用他人专利是否构成侵权？").question_type.value == "conduct"


# --- conversations ---------------------------------------------------------------------------------

class BudgetedGenerator(ScriptedGenerator):
    """A generator with a bounded context (like the local model): prompts are counted in characters."""

    def __init__(self, pieces: list[str], budget: int) -> None:
        super().__init__(pieces)
        self.budget = budget

    def prompt_token_budget(self) -> int | None:
        return self.budget

    def count_prompt_tokens(self, prompt: Prompt) -> int:
        return len(prompt.system) + len(prompt.user)


def test_a_follow_up_is_searched_standalone_and_its_history_reaches_the_prompt(judge, store):
    from rag.conversation import Turn

    generator = ScriptedGenerator(["专为科学研究和实验而使用有关专利的，不视为侵犯专利权[2]。"])
    answerer, retriever = make(generator, judge, store, known_laws=["中华人民共和国专利法"])
    history = [Turn("专利法第十一条规定了什么？", "未经专利权人许可，都不得实施其专利[1]。", ("专利法 第十一条",))]
    answer = answerer.answer("第二款呢？", history=history)
    (query, _, _), = retriever.calls
    assert query.startswith("专利法 第十一条 第二款") and answer.question == "第二款呢？"
    assert answer.standalone_question.startswith("专利法 第十一条 第二款") and "专利法" in answer.carried
    (prompt,) = generator.prompts
    assert "问: 专利法第十一条规定了什么？" in prompt.user and "答: 未经专利权人许可" in prompt.user
    assert "问题: 第二款呢？" in prompt.user and prompt.question == answer.standalone_question
    # without history nothing is carried, and the question is searched as asked
    plain = answerer.answer("第二款呢？")
    assert plain.standalone_question is None and plain.carried == () and retriever.calls[-1][0] == "第二款呢？"


def test_a_bounded_generator_loses_the_history_before_any_source(judge, store):
    from rag.conversation import Turn

    history = [Turn("专利法第十一条规定了什么？", "长" * 500, ("专利法 第十一条",))]
    roomy = BudgetedGenerator(["不视为侵犯专利权[2]。"], budget=100_000)
    make(roomy, judge, store, known_laws=["中华人民共和国专利法"])[0].answer("第二款呢？", history=history)
    full = roomy.prompts[0]
    assert "此前的对话" in full.user
    tight = BudgetedGenerator(["不视为侵犯专利权[2]。"], budget=len(full.system) + len(full.user) - 200)
    make(tight, judge, store, known_laws=["中华人民共和国专利法"])[0].answer("第二款呢？", history=history)
    (fitted,) = tight.prompts
    assert "此前的对话" not in fitted.user and len(fitted.sources) == len(full.sources)
