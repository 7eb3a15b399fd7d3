"""Follow-up resolution without an LLM (rag/conversation.py), history in prompts, and the
server-side conversation store with its retention limits (api/conversations.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.conversations import ConversationStore, Retention, UnknownConversationError
from rag.conversation import Turn, is_followup, resolve_followup
from rag.query import LawNames

LAWS = LawNames(["中华人民共和国专利法", "中华人民共和国商标法", "中华人民共和国著作权法", "中华人民共和国民法典"])


def resolve(question: str, *earlier: str | Turn):
    history = [t if isinstance(t, Turn) else Turn(t) for t in earlier]
    return resolve_followup(question, history, law_names=LAWS)


def test_a_question_without_history_stands_alone() -> None:
    resolved = resolve("那商标呢？")
    assert resolved.standalone == "那商标呢？" and not resolved.is_followup and resolved.carried == ()


def test_a_complete_question_after_another_stands_alone() -> None:
    resolved = resolve("商标法第三十九条规定了什么？", "专利权的保护期限是多久？")
    assert resolved.standalone == "商标法第三十九条规定了什么？" and not resolved.is_followup


def test_a_new_subject_replaces_the_old_one_and_its_law() -> None:
    resolved = resolve("那商标呢？", "专利法规定的发明专利权保护期限是多久？")
    assert resolved.is_followup
    assert "商标法" in resolved.standalone and "商标" in resolved.standalone and "保护期限" in resolved.standalone
    assert "专利" not in resolved.standalone
    assert "subject: 商标" in resolved.carried and "商标法" in resolved.carried


def test_a_bare_part_is_read_against_the_previous_article() -> None:
    resolved = resolve("第二款呢？", "专利法第十一条规定了什么？")
    assert resolved.standalone.startswith("专利法 第十一条 第二款")
    assert "专利法 第十一条 第二款" in resolved.carried


def test_units_carry_through_a_chain_of_follow_ups() -> None:
    resolved = resolve("第十二条呢？", "专利法第十一条规定了什么？", "第二款呢？")
    assert resolved.standalone.startswith("专利法 第十二条")
    assert "第十一条" not in resolved.standalone  # the earlier unit is not searched for again


def test_the_previous_answers_citation_gives_the_unit_and_the_law() -> None:
    resolved = resolve("第二款呢？", Turn("为生产经营目的制造专利产品是否侵权？", "……[1]", ("专利法 第十一条",)))
    assert resolved.standalone.startswith("专利法 第十一条 第二款")
    elliptical = resolve("到期忘了续展怎么办？", Turn("注册的有效期是多久？", "……[1]", ("商标法 第三十九条",)))
    assert "商标法" in elliptical.standalone and "商标法" in elliptical.carried


def test_the_subjects_law_is_carried_when_none_was_named() -> None:
    resolved = resolve("到期了忘了续展怎么办？", "注册商标的有效期是多久？")
    assert resolved.search_query.count("到期了忘了续展") == 2  # the follow-up outweighs what is carried
    assert resolved.standalone.count("到期了忘了续展") == 1
    assert "商标法" in resolved.carried and "注册商标" in resolved.standalone


def test_english_follow_ups_carry_the_earlier_question_and_swap_subjects() -> None:
    photos = resolve("What about the photos in the cookbook?", "Is a recipe protected by copyright?")
    assert photos.is_followup and "copyright" in photos.standalone and "photos" in photos.standalone
    marks = resolve("What about trademarks?", "Is a recipe protected by copyright?")
    assert "trademark" in marks.standalone and "copyright" not in marks.standalone.lower()
    section = resolve("what about section 272?", "What does 35 U.S.C. § 271 cover?")
    assert section.standalone.startswith("35 U.S.C. § 272")


@pytest.mark.parametrize("question, expected", [
    ("那商标呢？", True), ("第二款呢？", True), ("侵犯它要承担什么责任？", True), ("到期忘了续展怎么办？", True),
    ("What about copyrights?", True), ("And for a work made for hire?", True), ("What remedies are there for it?", True),
    ("How long does the registration last?", True),
    ("商标的保护期限是多久？", False), ("未经专利权人许可制造其专利产品是否侵权？", False),
    ("专利法第十一条规定了什么？", False), ("Is it patent infringement to sell a patented machine abroad?", False),
    ("Is there a time limit on recovering damages for copyright infringement?", False),
])
def test_what_counts_as_a_follow_up(question: str, expected: bool) -> None:
    assert is_followup(question, law_names=LAWS) is expected


def test_prompts_show_the_history_and_a_bounded_context_drops_it_first() -> None:
    from ipqa.domain import Chunk, Hit
    from rag.prompts import build_prompt, fit_prompt

    hit = Hit(chunk=Chunk(id="c1", document_id="d", text="注册商标的有效期为十年。", citation="商标法 第三十九条",
                          unit="article", language="zh"), score=1.0, rank=1)
    history = [("专利权的保护期限是多久？", "发明专利权的期限为二十年[1]。" + "很长" * 400)]
    prompt = build_prompt("那商标呢？", "doctrine", [hit], history=history, standalone="商标的保护期限是多久？")
    assert "此前的对话" in prompt.user and "问: 专利权的保护期限是多久？" in prompt.user
    assert "…" in prompt.user  # a long earlier answer is cut
    assert prompt.question == "商标的保护期限是多久？"  # what the extractive generator selects quotes by
    assert prompt.user.index("此前的对话") > prompt.user.index("[1] 商标法 第三十九条")

    without = build_prompt("那商标呢？", "doctrine", [hit], standalone="商标的保护期限是多久？")
    fitted = fit_prompt("那商标呢？", "doctrine", [hit], count_tokens=lambda p: len(p.user), budget=len(without.user),
                        history=history, standalone="商标的保护期限是多久？")
    assert fitted.sources == (hit,) and "此前的对话" not in fitted.user


# --- the store ------------------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_turns_are_kept_in_order_and_survive_a_new_store(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite"
    store = ConversationStore(path)
    conversation = store.create()
    store.append(conversation.id, Turn("注册商标的有效期是多久？", "十年[1]", ("商标法 第三十九条",)))
    store.append(conversation.id, Turn("到期忘了续展怎么办？", "宽展期[1]", ("商标法 第四十条",)))
    again = ConversationStore(path).get(conversation.id)
    assert [t.question for t in again.turns] == ["注册商标的有效期是多久？", "到期忘了续展怎么办？"]
    assert again.turns[0].citations == ("商标法 第三十九条",)


def test_unknown_and_deleted_conversations_are_refused(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite")
    with pytest.raises(UnknownConversationError):
        store.get("conv_nope")
    with pytest.raises(UnknownConversationError):
        store.append("conv_nope", Turn("x"))
    conversation = store.create()
    store.delete(conversation.id)
    with pytest.raises(UnknownConversationError):
        store.get(conversation.id)


def test_retention_limits_age_count_and_turns(tmp_path: Path) -> None:
    clock = Clock()
    store = ConversationStore(tmp_path / "c.sqlite", Retention(days=1, max_conversations=3, max_turns=2), clock=clock)
    old = store.create()
    clock.now += 2 * 86400  # older than the retention period: gone at once, and deleted at the next creation
    with pytest.raises(UnknownConversationError):
        store.get(old.id)
    kept = [store.create() for _ in range(4)]
    assert store.count() == 3  # the oldest of the four went, and the expired one was deleted
    with pytest.raises(UnknownConversationError):
        store.get(kept[0].id)
    for n in range(5):
        store.append(kept[-1].id, Turn(f"question {n}"))
    assert [t.question for t in store.get(kept[-1].id).turns] == ["question 3", "question 4"]



def test_a_followup_with_its_own_aspect_carries_only_the_earlier_subject() -> None:
    from rag.conversation import Turn, resolve_followup

    resolved = resolve_followup("那需要满足什么条件才能获得授权？", [Turn("外观设计专利的保护期限是多久？")])
    assert resolved.is_followup
    assert "外观设计专利" in resolved.search_query and "保护期限" not in resolved.search_query
    # a bare follow-up still carries the whole earlier question
    bare = resolve_followup("那商标呢？", [Turn("专利的保护期限是多久？")])
    assert "保护期限" in bare.search_query
