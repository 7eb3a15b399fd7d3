"""The evaluation's own scoring functions against hand-computed examples, edge cases included:
ROUGE-L, ALCE citation precision/recall, the fabricated-citation check, exam letter parsing and
scoring, gold-article mapping of a ranking, and BERTScore greedy matching (with a tiny model)."""

from __future__ import annotations

import pytest

from evals.citation_quality import CitationCounts, CitedStatement, alce_counts, check_citation, fabricated_rate
from evals.exam import ChoiceScore, exam_prompt, parse_choice, score_choice
from evals.datasets import ExamQuestion
from evals.gold import GoldArticle, ranked_labels
from evals.similarity import RougeTokenizer, lcs_length, rouge_l, rouge_l_tokens
from factories import make_chunk, make_hit
from ipqa.domain import AnswerCitation, Chunk, Hit

# --- ROUGE-L ----------------------------------------------------------------------------------------


def test_lcs_length_by_hand() -> None:
    assert lcs_length("ABCBDAB", "BDCABA") == 4  # the textbook example (BCBA)
    assert lcs_length([], ["a"]) == 0
    assert lcs_length(["a", "b"], ["a", "b"]) == 2


def test_rouge_l_tokens_by_hand() -> None:
    # candidate a b c d, reference a c e: LCS = a c (2); P = 2/4, R = 2/3, F = 2PR/(P+R) = 4/7
    score = rouge_l_tokens(list("abcd"), list("ace"))
    assert score.precision == pytest.approx(0.5)
    assert score.recall == pytest.approx(2 / 3)
    assert score.f1 == pytest.approx(4 / 7)


def test_rouge_l_over_jieba_words() -> None:
    tokenizer = RougeTokenizer()
    assert tokenizer("专利权的期限为二十年。[1]") == tokenizer("专利权的期限为二十年")  # markers, punctuation dropped
    words = tokenizer("发明专利权的期限为二十年")
    assert len(words) < len("发明专利权的期限为二十年")  # words, not characters
    assert rouge_l("发明专利权的期限为二十年", "发明专利权的期限为二十年").f1 == pytest.approx(1.0)
    same_chars_other_words = rouge_l("专利权人", "专利 权人")  # one word vs two: no common word
    assert same_chars_other_words.f1 < 1.0


@pytest.mark.parametrize("candidate, reference", [("", "参考答案"), ("回答", ""), ("", ""), ("。。", "！")])
def test_rouge_l_empty_texts_score_zero(candidate: str, reference: str) -> None:
    assert rouge_l(candidate, reference).f1 == 0.0


def test_rouge_l_english_is_case_insensitive() -> None:
    assert rouge_l("The Patent is Infringed", "the patent is infringed").f1 == pytest.approx(1.0)


# --- ALCE citation recall / precision ---------------------------------------------------------------


class KeywordJudge:
    """Support = 1 when every word of the statement occurs in the evidence (a judge whose verdicts can be
    worked out by hand)."""

    name = "keywords"

    def support(self, statement: str, evidence: str) -> float:
        return 1.0 if all(word in evidence for word in statement.split()) else 0.0


def _counts(*statements: CitedStatement) -> CitationCounts:
    return alce_counts(statements, KeywordJudge(), threshold=0.5)


def test_alce_single_citation_supported_and_not() -> None:
    counts = _counts(CitedStatement("x y", ("x y z",)), CitedStatement("x q", ("x y z",)))
    assert (counts.statements, counts.supported_statements, counts.citations, counts.precise_citations) == (2, 1, 2, 1)
    assert counts.recall == pytest.approx(0.5) and counts.precision == pytest.approx(0.5)


def test_alce_joint_support_and_irrelevant_citation() -> None:
    # "x y" needs both texts: each alone fails, but removing either breaks support -> both precise.
    both_needed = _counts(CitedStatement("x y", ("x", "y")))
    assert (both_needed.supported_statements, both_needed.precise_citations) == (1, 2)
    # "x" with citations ("x", "q"): "q" alone fails and "x" suffices without it -> irrelevant.
    over_cited = _counts(CitedStatement("x", ("x", "q")))
    assert (over_cited.supported_statements, over_cited.citations, over_cited.precise_citations) == (1, 2, 1)
    # Redundant citations that each support the statement alone are both precise.
    redundant = _counts(CitedStatement("x", ("x", "x y")))
    assert redundant.precise_citations == 2


def test_alce_unsupported_statement_makes_its_citations_imprecise() -> None:
    counts = _counts(CitedStatement("x y", ("x", "q")))
    assert (counts.supported_statements, counts.citations, counts.precise_citations) == (0, 2, 0)


def test_alce_statement_without_citations_and_unresolved_citations() -> None:
    counts = _counts(CitedStatement("x", ()), CitedStatement("x", (None,)), CitedStatement("x", (None, "x")))
    # no citation: unsupported; unresolved only: unsupported; unresolved + good: supported, unresolved imprecise
    assert (counts.statements, counts.supported_statements, counts.citations, counts.precise_citations) == (3, 1, 3, 1)


def test_alce_empty_answer() -> None:
    counts = _counts()
    assert counts.recall == 0.0 and counts.precision == 0.0 and counts.statements == 0


# --- fabricated citations ---------------------------------------------------------------------------


def _citation(citation: str, span: str, number: int = 1) -> AnswerCitation:
    return AnswerCitation(number=number, citation=citation, quoted_span=span, chunk_id=None, document_id=None,
                          verified=True, support=1.0)


def test_fabricated_citation_check() -> None:
    from rag_fixtures import ART_42, lookup

    store = lookup()
    real = check_citation(_citation("专利法第四十二条", "实用新型专利权的期限为十年"), store)
    assert not real.fabricated and real.text == ART_42
    spaced = check_citation(_citation("专利法 第四十二条", "实用新型专利权的期限 为十年"), store)
    assert not spaced.fabricated  # whitespace is ignored
    unresolved = check_citation(_citation("专利法第九百条", "科研免责"), store)
    assert unresolved.fabricated and unresolved.reason == "unresolved"
    misquoted = check_citation(_citation("专利法第四十二条", "专利权的期限为一百年"), store)
    assert misquoted.fabricated and misquoted.reason == "span_not_found"
    no_part = check_citation(_citation("专利法第四十二条第五款", ""), store)
    assert no_part.fabricated  # a part the article does not have is not "close enough"
    assert fabricated_rate([real, spaced, unresolved, misquoted]) == pytest.approx(0.5)
    assert fabricated_rate([]) == 0.0


# --- exam ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("output, expected", [
    ("B", "B"), ("答案：B", "B"), ("答案：A、C、D", "ACD"), ("分析……所以正确答案是 ACD。", "ACD"),
    ("答案：B项", "B"), ("B. 甲公司", "B"), ("(ACD).", "ACD"), ("【答案】B", "B"), ("Ｂ", "B"),
    ("The answer is C and D", "CD"), ("选 B 和 D", "BD"),
    ("答案：<字母>\n经分析，答案：C", "C"),  # the last explicit statement wins
    ("答案：E", None), ("没有把握", None), ("", None), ("the answer is a patent", None),
])
def test_parse_choice(output: str, expected: str | None) -> None:
    chosen = parse_choice(output, ["A", "B", "C", "D"])
    assert ("".join(sorted(chosen)) if chosen else None) == expected


def test_score_choice_exact_and_partial() -> None:
    acd = frozenset("ACD")
    assert score_choice(frozenset("ACD"), acd) == ChoiceScore(1.0, 1.0)
    assert score_choice(frozenset("AC"), acd) == ChoiceScore(0.0, pytest.approx(2 / 3))
    assert score_choice(frozenset("AB"), acd) == ChoiceScore(0.0, 0.0)  # a wrong letter scores nothing
    assert score_choice(frozenset("ABCD"), acd) == ChoiceScore(0.0, 0.0)
    assert score_choice(None, acd) == ChoiceScore(0.0, 0.0)
    assert score_choice(frozenset("B"), frozenset("B")) == ChoiceScore(1.0, 1.0)
    assert score_choice(frozenset("A"), frozenset("B")) == ChoiceScore(0.0, 0.0)


def test_exam_prompt_lists_options_and_sources() -> None:
    from rag_fixtures import hits

    question = ExamQuestion("q1", "专利权的期限是多久？", {"A": "十年", "B": "二十年"}, frozenset("B"), False)
    closed = exam_prompt(question)
    assert "A. 十年" in closed.user and "B. 二十年" in closed.user and "单项选择题" in closed.user
    assert closed.sources == () and "答案" in closed.system
    rag = exam_prompt(question, hits("专利法 第四十二条"))
    assert "[1] 专利法 第四十二条" in rag.user and len(rag.sources) == 1


# --- gold mapping of a ranking ---------------------------------------------------------------------


def _hit(chunk_id: str, rank: int) -> Hit:
    return make_hit(chunk_id, score=1.0 / rank, rank=rank)


def test_ranked_labels_accepts_any_version_once() -> None:
    gold = [GoldArticle("法第一条", "法 第一条", frozenset({"v2020", "v2008"})),
            GoldArticle("法第九条", "法 第九条", frozenset())]
    hits = [_hit("other", 1), _hit("v2008", 2), _hit("v2020", 3), _hit("v2008", 4)]
    labels = ranked_labels(hits, gold)
    assert labels[0] == "other" and labels[1] == "法第一条"
    # the second version and the repeated chunk keep their ranks but are no longer the gold label
    assert labels[2] != "法第一条" and labels[3] != "法第一条" and len(labels) == 4
    assert ranked_labels([], gold) == []


class ScriptedGenerator:
    """Answers from a script and records the prompts it was given (the exam loop is under test here)."""

    name = "scripted"

    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)
        self.prompts: list = []

    def generate(self, prompt) -> str:
        from rag.generators import GeneratorError

        self.prompts.append(prompt)
        reply = self.replies.pop(0)
        if reply == "FAIL":
            raise GeneratorError("endpoint unreachable")
        return reply

    def stream(self, prompt):
        yield self.generate(prompt)


def test_evaluate_exam_rag_mode_scores_and_survives_a_failure() -> None:
    from evals.exam import evaluate_exam
    from rag_fixtures import FixedRetriever, hits

    questions = [
        ExamQuestion("s1", "专利权的期限？", {"A": "十年", "B": "二十年"}, frozenset("B"), False),
        ExamQuestion("m1", "哪些不视为侵权？", {"A": "科研", "B": "销售", "C": "先用"}, frozenset("AC"), True),
        ExamQuestion("m2", "哪些不视为侵权？", {"A": "科研", "B": "销售", "C": "先用"}, frozenset("AC"), True),
        ExamQuestion("s2", "专利权的期限？", {"A": "十年", "B": "二十年"}, frozenset("B"), False),
    ]
    retriever = FixedRetriever(hits("专利法 第四十二条", "专利法 第七十五条"))
    generator = ScriptedGenerator(["答案：B", "答案：A", "FAIL", "我不确定"])
    evaluation = evaluate_exam(questions, generator, mode="rag", retriever=retriever, k=2)
    summary = evaluation.summary()
    assert summary["answered"] == 2 and summary["errors"] == 1
    assert summary["accuracy_single"] == 0.5 and summary["accuracy_multiple"] == 0.0
    assert summary["partial_credit"] == pytest.approx((1 + 0.5 + 0 + 0) / 4)
    assert summary["partial_credit_multiple"] == pytest.approx(0.25)
    assert "[2] 专利法 第七十五条" in generator.prompts[0].user and "A. 十年" in generator.prompts[0].user
    assert retriever.calls[0][0].startswith("专利权的期限？") and "二十年" in retriever.calls[0][0]
    assert evaluation.questions[0].sources == ("专利法 第四十二条", "专利法 第七十五条")

    closed = evaluate_exam(questions[:1], ScriptedGenerator(["B"]), mode="closed")
    assert closed.summary()["accuracy"] == 1.0 and closed.questions[0].sources == ()


def test_real_citation_the_resolver_cannot_parse_is_not_fabricated() -> None:
    chunk = make_chunk("某解释 第二条", "如果刑法规定的某一犯罪有两个以上的法定刑幅度。", id="c1", document_id="d")

    class StoreResolvingNothing:
        def chunks_by_unit_key(self, key: str) -> list[Chunk]:
            return []

        def document(self, document_id: str):
            return None

        def chunk(self, chunk_id: str) -> Chunk | None:
            return chunk if chunk_id == chunk.id else None

    store = StoreResolvingNothing()
    pointed = AnswerCitation(1, "某解释 第二条", "两个以上的法定刑幅度", "c1", "d", True, 1.0)
    checked = check_citation(pointed, store)
    assert not checked.fabricated and checked.resolver_mismatch and checked.text == chunk.text
    misquoted = AnswerCitation(1, "某解释 第二条", "一百年", "c1", "d", True, 1.0)
    assert check_citation(misquoted, store).reason == "span_not_found"
    other_text = AnswerCitation(1, "某解释 第九条", "", "c1", "d", True, 1.0)  # says another article
    assert check_citation(other_text, store).reason == "unresolved"


# --- the LLM support judge ---------------------------------------------------------------------------


@pytest.mark.parametrize("output, verdict", [
    ("支持", 1.0), ("结论：支持。", 1.0), ("不支持", 0.0), ("依据不足以支持该陈述", 0.0), ("Yes", 1.0),
    ("The statement is not supported.", 0.0), ("supported", 1.0), ("嗯……", None), ("", None),
])
def test_parse_verdict(output: str, verdict: float | None) -> None:
    from evals.judges import parse_verdict

    assert parse_verdict(output) == verdict


def test_llm_judge_is_conservative_and_plugs_into_alce() -> None:
    from evals.judges import LlmJudge

    generator = ScriptedGenerator(["支持", "我不知道", "不支持"])
    judge = LlmJudge(generator)
    assert judge.support("专利权期限二十年", "发明专利权的期限为二十年") == 1.0
    assert judge.support("专利权期限二十年", "发明专利权的期限为二十年") == 0.0  # unreadable verdict
    assert judge.support("x", "") == 0.0 and len(generator.prompts) == 2  # no evidence: not asked
    assert "陈述" in generator.prompts[0].user and "发明专利权的期限为二十年" in generator.prompts[0].user
    counts = alce_counts([CitedStatement("专利权期限一百年", ("发明专利权的期限为二十年",))], judge, threshold=0.5)
    assert counts.supported_statements == 0 and counts.precise_citations == 0


def test_llm_judge_refuses_the_extractive_generator(tmp_path) -> None:
    from evals.judges import create_eval_judge
    from ipqa.errors import ConfigError
    from ipqa.settings import Settings

    with pytest.raises(ConfigError, match="needs a model that writes text"):
        create_eval_judge("llm", Settings(data_dir=tmp_path, generator="extractive"))
    assert create_eval_judge("lexical", Settings(data_dir=tmp_path)).name == "lexical"
