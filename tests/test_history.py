"""A unit's history across the versions of its law: ``LawHistory``, ``ipqa history`` (issue 13)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from factories import Unit, parsed_document
from indexes.store import SqliteChunkStore
from ingest.article_alignment import Relation
from ipqa.errors import InputError
from rag.history import LawHistory, history_to_dict, render_diff, versioned_citation, word_diff

LAW = "中华人民共和国示例法实施细则"
SHORT = "示例法实施细则"
FEES = "专利权人应当自被授予专利权的当年开始缴纳年费，期满未缴纳的，专利权终止。"
RESTORE = "当事人因不可抗拒的事由而延误期限，导致其权利丧失的，可以请求恢复权利。"
AMEND = "在无效宣告请求的审查过程中，专利权人可以修改其权利要求书，但是不得扩大原专利的保护范围。"
SECRET = "违反本细则规定泄露国家秘密的，由所在单位或者上级主管机关给予行政处分。"
AGENT = "专利代理师应当按照委托人的委托，在委托权限范围内办理专利申请或者其他专利事务。"
NEW_AMEND = AMEND + "国务院专利行政部门应当公告修改后的权利要求。"
TODAY = dt.date(2026, 1, 1)


def _law(version: str, effective: str, *texts: str):
    from ingest.cn_numbers import int_to_cn

    units = [Unit(f"{SHORT} 第{int_to_cn(i)}条", text, hierarchy=("第一章", f"第{int_to_cn(i)}条"))
             for i, text in enumerate(texts, 1)]
    return parsed_document(LAW, units, version=version, metadata={"effective": effective})


@pytest.fixture()
def store(tmp_path: Path):
    path = tmp_path / "store.sqlite"
    writable = SqliteChunkStore.create(path)
    for parsed in (_law("2001-06-15", "2001-07-01", FEES, AMEND, SECRET),
                   _law("2010-01-09", "2010-02-01", FEES, RESTORE, AMEND, SECRET),  # 第二条 inserted
                   _law("2023-12-11", "2024-01-20", AGENT, FEES, RESTORE, NEW_AMEND)):  # 第四条 deleted
        writable.add(parsed)
    writable.compact()
    writable.close()
    readonly = SqliteChunkStore.open_readonly(path)
    yield readonly
    readonly.close()


def test_a_renumbered_and_amended_article_is_followed_through_every_version(store):
    found = LawHistory(store, today=TODAY).history(f"{SHORT}（2010）第三条")
    assert found.citation == f"{SHORT}（2010）第三条"
    assert [v.version for v in found.versions] == ["2001-06-15", "2010-01-09", "2023-12-11"]
    assert [[u.citation for u in v.units] for v in found.versions] == [
        [f"{SHORT}（2001）第二条"], [f"{SHORT}（2010）第三条"], [f"{SHORT} 第四条"]]
    v2010, v2023 = found.versions[1].units[0], found.versions[2].units[0]
    assert v2010.relation is Relation.SAME and v2010.renumbered and v2010.came_from == (f"{SHORT}（2001）第二条",)
    assert v2023.relation is Relation.AMENDED and v2023.renumbered
    assert render_diff(v2023.diff) == AMEND + "{+国务院专利行政部门应当公告修改后的权利要求。+}"
    assert [u.citation for u in found.current] == [f"{SHORT} 第四条"]
    assert [(v.effective, v.in_force_until, v.current) for v in found.versions] == [
        ("2001-07-01", "2010-02-01", False), ("2010-02-01", "2024-01-20", False), ("2024-01-20", None, True)]


def test_an_inserted_article_was_not_yet_in_the_law_and_a_deleted_one_is_gone(store):
    history = LawHistory(store, today=TODAY)
    inserted = history.history(f"{SHORT}（2010）第二条")
    assert inserted.versions[0].status == "not yet in the law" and not inserted.versions[0].units
    assert inserted.versions[1].units[0].relation is Relation.INSERTED
    deleted = history.history(f"{SHORT}（2010）第四条")
    assert deleted.versions[2].status == "deleted" and deleted.current == ()


def test_the_current_counterpart_of_a_superseded_unit_and_none_for_a_current_one(store):
    from ingest.citation_resolve import resolve_one

    history = LawHistory(store, today=TODAY)
    old = resolve_one(f"{SHORT}（2010）第三条", store)
    counterparts = history.current_counterparts(old.chunk, old.document)
    assert [u.citation for u in counterparts] == [f"{SHORT} 第四条"]
    current = resolve_one(f"{SHORT}第四条", store)
    assert current.version == "2023-12-11"
    assert history.current_counterparts(current.chunk, current.document) is None
    deleted = resolve_one(f"{SHORT}（2010）第四条", store)
    assert history.current_counterparts(deleted.chunk, deleted.document) == ()


def test_without_a_qualifier_the_article_of_that_number_in_the_newest_version(store):
    found = LawHistory(store, today=TODAY).history(f"{SHORT}第三条")
    assert found.citation == f"{SHORT} 第三条"  # 2023's 第三条 (RESTORE), not 2010's
    assert found.versions[2].units[0].text == RESTORE


@pytest.mark.parametrize("citation, problem", [
    (f"{SHORT}（2015）第三条", "2023-12-11, 2010-01-09, 2001-06-15"),  # the versions that exist
    (f"{SHORT}第九十条", "第九十条"),
    ("这不是一个引用", "这不是一个引用")])
def test_a_citation_that_names_nothing_is_an_input_error_saying_why(store, citation, problem):
    with pytest.raises(InputError) as raised:
        LawHistory(store, today=TODAY).history(citation)
    assert problem in str(raised.value)


def test_the_word_diff_gives_both_texts_back():
    old, new = "专利权人可以修改其权利要求书。", "专利权人不得修改其说明书和权利要求书。"
    ops = word_diff(old, new)
    assert "".join(op.old for op in ops) == old and "".join(op.new for op in ops) == new
    assert any(op.op != "equal" for op in ops) and all(op.op == "equal" for op in word_diff(old, old))
    assert versioned_citation("专利法实施细则 第六十九条 第一款", "2010") == "专利法实施细则（2010）第六十九条 第一款"


def test_the_json_form_names_relations_and_diffs(store):
    data = history_to_dict(LawHistory(store, today=TODAY).history(f"{SHORT}（2010）第三条"))
    assert data["current"] == [f"{SHORT} 第四条"]
    last = data["versions"][-1]["units"][0]
    assert last["relation"] == "amended" and last["renumbered"] is True
    assert last["diff_text"].endswith("{+国务院专利行政部门应当公告修改后的权利要求。+}")


def _store_of(tmp_path: Path, *parsed_documents):
    path = tmp_path / "store.sqlite"
    writable = SqliteChunkStore.create(path)
    for parsed in parsed_documents:
        writable.add(parsed)
    writable.compact()
    writable.close()
    return SqliteChunkStore.open_readonly(path)


def test_two_copies_of_one_version_taking_effect_the_same_day_count_once(tmp_path: Path):
    store = _store_of(tmp_path, _law("2015-01-01", "2015-02-01", FEES, AMEND),
                      _law("2022-04-01", "2022-04-10", FEES, RESTORE, AMEND),
                      _law("2022-04-02", "2022-04-10", FEES, RESTORE, NEW_AMEND))
    try:
        found = LawHistory(store, today=TODAY).history(f"{SHORT}（2015）第二条")
        assert [v.version for v in found.versions] == ["2015-01-01", "2022-04-02"]  # the later copy
        assert [v.current for v in found.versions] == [False, True]
        assert found.versions[0].in_force_until == "2022-04-10" and found.versions[1].in_force_until is None
        assert [u.citation for u in found.current] == [f"{SHORT} 第三条"]
        # asked about the other copy, that copy is the one shown
        other = LawHistory(store, today=TODAY).history(f"{SHORT}（2022-04-01）第三条")
        assert [v.version for v in other.versions] == ["2015-01-01", "2022-04-01"]
    finally:
        store.close()


def test_a_merged_article_names_every_predecessor_and_diffs_against_them_all(tmp_path: Path):
    store = _store_of(tmp_path, _law("2010-01-09", "2010-02-01", AGENT, FEES, RESTORE, SECRET),
                      _law("2023-12-11", "2024-01-20", AGENT, FEES + RESTORE, SECRET))
    try:
        found = LawHistory(store, today=TODAY).history(f"{SHORT}（2010）第二条")
        [merged] = found.current
        assert merged.relation is Relation.MERGED
        assert set(merged.came_from) == {f"{SHORT}（2010）第二条", f"{SHORT}（2010）第三条"}
        assert all(op.op == "equal" or not op.new.strip() for op in merged.diff)  # nothing new in it
    finally:
        store.close()
