"""The lexical judge's polarity checks (rag/polarity.py): negations, modal flips, changed numbers and
swapped parties are not "supported", on the hand-written pairs set and one rule at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rag_fixtures import ART_11, ART_75, SEC_271_A

from rag.judges import LexicalJudge
from rag.polarity import negations, quantities

PAIRS = Path(__file__).parent / "fixtures" / "support" / "support_pairs.jsonl"
THRESHOLD = 0.3  # CitationVerifier's default


@pytest.fixture(scope="module")
def judge() -> LexicalJudge:
    return LexicalJudge()


def _pairs() -> list[dict]:
    return [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]


def _rates(judge: LexicalJudge) -> dict[str, float]:
    counts: dict[str, list[int]] = {}
    for pair in _pairs():
        supported = judge.support(pair["statement"], pair["evidence"]) >= THRESHOLD
        entry = counts.setdefault(pair["category"], [0, 0])
        entry[0] += supported
        entry[1] += 1
    return {category: s / n for category, (s, n) in counts.items()}


def test_pairs_set_is_large_and_covers_both_languages_and_every_category():
    pairs = _pairs()
    assert len(pairs) >= 100
    assert {p["language"] for p in pairs} == {"zh", "en"}
    assert {p["category"] for p in pairs} == {"verbatim", "paraphrase", "negated", "number", "party", "unrelated"}
    assert len({p["id"] for p in pairs}) == len(pairs)


def test_pairs_targets_hold(judge):
    rates = _rates(judge)
    assert rates["negated"] <= 0.05 and rates["number"] <= 0.05, rates
    assert rates["verbatim"] >= 0.95 and rates["paraphrase"] >= 0.95, rates
    assert rates["party"] <= 0.05 and rates["unrelated"] <= 0.05, rates


def test_without_the_checks_the_overlap_score_passes_contradictions():
    """What the checks are for: word overlap alone calls most negated statements supported."""
    rates = _rates(LexicalJudge(check_polarity=False))
    assert rates["negated"] > 0.5 and rates["number"] > 0.5


@pytest.mark.parametrize("statement, evidence, kind", [
    ("任何单位或者个人未经专利权人许可，都可以实施其专利。", ART_11, "negation"),  # 不得 -> 可以
    ("专为科学研究和实验而使用有关专利的，视为侵犯专利权。", ART_75, "negation"),  # 不视为 -> 视为
    ("并非专为科学研究和实验而使用有关专利的都不视为侵犯专利权。", ART_75, "negation"),
    ("Whoever without authority makes or sells any patented invention within the United States does not "
     "infringe the patent.", SEC_271_A, "negation"),
    ("It is not the case that whoever without authority sells any patented invention infringes the patent.",
     SEC_271_A, "negation"),
    ("发明专利权的期限为五年。", "发明专利权的期限为二十年，均自申请日起计算。", "number"),
    ("The licensee shall pay within 60 days.", "The licensee shall pay within 30 days.", "number"),
    ("许可人应当向被许可人支付使用费。", "被许可人应当向许可人支付使用费。", "party"),
    ("The licensor shall pay the licensee a royalty.", "The licensee shall pay the licensor a royalty.", "party"),
])
def test_each_kind_of_contradiction_scores_zero(judge, statement, evidence, kind):
    assert LexicalJudge(check_polarity=False).support(statement, evidence) >= THRESHOLD  # the words are there
    conflict = judge.conflict(statement, evidence)
    assert conflict is not None and conflict.kind == kind
    assert judge.support(statement, evidence) == 0.0


@pytest.mark.parametrize("statement, evidence", [
    ("专为科学研究和实验而使用有关专利的，不视为侵犯专利权。", ART_75),  # the lead-in's negation counts
    ("任何单位或者个人未经专利权人许可，都不得实施其专利。", ART_11),
    ("未经许可实施他人专利，即不得为生产经营目的制造其专利产品。", ART_11),
    ("Whoever without authority makes any patented invention within the United States infringes the patent.",
     SEC_271_A),
    ("调解不成的，当事人可以向人民法院起诉。", "调解不成的，当事人可以依法向人民法院起诉。"),  # 不成 is a clause
    ("公告期满无异议的，予以核准注册。", "公告期满无异议的，予以核准注册，发给商标注册证。"),
    ("依照前款规定不返还专利使用费，明显违反公平原则的，应当全部或者部分返还。",
     "依照前款规定不返还专利使用费，明显违反公平原则的，应当全部或者部分返还。"),
])
def test_faithful_statements_find_no_conflict(judge, statement, evidence):
    assert judge.conflict(statement, evidence) is None
    assert judge.support(statement, evidence) >= THRESHOLD


def test_negation_words_and_lexicalised_ones():
    assert [t for t in negations("不服的，可以没收；不正当竞争")] == []  # not negations of a rule
    assert len(negations("不得实施，并且无权允许")) == 2
    assert len(negations("It shall not be an act; he can't; no recovery")) == 3


def test_quantities_read_units_in_both_languages():
    assert quantities("诉讼时效为三年，期满前十二个月内，赔偿五十万元") == {
        ("year", 3.0), ("month", 12.0), ("yuan", 500_000.0)}
    assert quantities("赔偿50万元") == quantities("赔偿五十万元")
    assert quantities("within 30 days, 5 percent, six years, $250,000") == {
        ("day", 30.0), ("percent", 5.0), ("year", 6.0), ("dollar", 250000.0)}
    assert quantities("第五十年的 section 271") == set()  # ordinals and bare numbers are not lengths


def test_a_case_number_is_not_a_negation():
    assert negations("Case No. 12-345 held that the claim is valid") == []
    assert len(negations("No recovery shall be had")) == 1
