"""The law as of a date (issue 13, part 2): of each law only the version in force on the date is
searched and cited; an unparseable or future date is refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from factories import Unit, parsed_document
from indexes.protocols import SearchFilters
from indexes.store import SqliteChunkStore
from ipqa.errors import InputError
from ipqa.in_force import DatedVersion, out_of_force, parse_as_of
from rag.cited import cited_hits
from rag.filters import in_force_today, matches, out_of_force_ids

LAW = "中华人民共和国示例法实施细则"
SHORT = "示例法实施细则"


def test_the_version_that_took_effect_last_on_or_before_the_date_is_the_one_in_force():
    versions = [DatedVersion("v2001", "law", "2001-07-01"), DatedVersion("v2010", "law", "2010-02-01"),
                DatedVersion("v2023", "law", "2024-01-20"), DatedVersion("other", "other law", "2021-06-01")]
    assert out_of_force(versions, "2015-06-01") == {"v2001", "v2023", "other"}  # other: not yet enacted
    assert out_of_force(versions, "2024-06-01") == {"v2001", "v2010"}
    assert out_of_force(versions, "2010-02-01") == {"v2001", "v2023", "other"}  # in force on its first day
    assert out_of_force(versions, "2000-01-01") == {"v2001", "v2010", "v2023", "other"}
    # books of one code that took effect together all stay
    books = [DatedVersion("book1", "code", "2021-01-01"), DatedVersion("book2", "code", "2021-01-01")]
    assert out_of_force(books, "2022-01-01") == frozenset()


@pytest.mark.parametrize("text, problem", [("2015-13-01", "not a date"), ("15/06/2015", "not a date"),
                                           ("yesterday", "not a date"), ("2015-6-1", "not a date"),
                                           ("2999-01-01", "in the future")])
def test_an_unparseable_or_future_date_is_refused_naming_the_input(text, problem):
    with pytest.raises(InputError) as raised:
        parse_as_of(text, today=dt.date(2026, 1, 1), name="--as-of")
    assert raised.value.source == "--as-of" and problem in raised.value.problem


def test_a_past_date_or_today_is_accepted():
    assert parse_as_of(" 2015-06-01 ", today=dt.date(2026, 1, 1)) == "2015-06-01"
    assert parse_as_of("2026-01-01", today=dt.date(2026, 1, 1)) == "2026-01-01"


def test_without_a_date_the_default_is_today_and_an_asked_date_is_kept():
    assert in_force_today(None, "2026-01-01") == SearchFilters(as_of="2026-01-01")
    asked = SearchFilters(kinds=frozenset({"statute"}), as_of="2015-06-01")
    assert in_force_today(asked, "2026-01-01") is asked


def _version(year: str, effective: str, text: str):
    return parsed_document(LAW, [Unit(f"{SHORT} 第六十九条", text), Unit(f"{SHORT} 第一条", f"{year}年的第一条。")],
                           version=year + "-01-01", metadata={"effective": effective})


@pytest.fixture()
def store(tmp_path: Path):
    path = tmp_path / "store.sqlite"
    writable = SqliteChunkStore.create(path)
    for parsed in (_version("2010", "2010-02-01", "二〇一〇年的无效宣告程序。"),
                   _version("2023", "2024-01-20", "二〇二三年的无效宣告请求。"),
                   parsed_document("某判决书", [Unit("（2019）最高法知民终1号 本院认为", "判决。", unit="judgment_part")],
                                   kind="judgment", version="2019-05-05")):
        writable.add(parsed)
    writable.compact()
    writable.close()
    readonly = SqliteChunkStore.open_readonly(path)
    yield readonly
    readonly.close()


def _texts(store: SqliteChunkStore, filters: SearchFilters) -> set[str]:
    ids = store.allowed_int_ids(filters)
    assert ids is not None
    by_int = {int_id: chunk for int_id, chunk, _ in store.iter_chunks_with_documents()}
    return {by_int[int(i)].text for i in ids}


def test_the_store_filter_keeps_the_version_in_force_and_undated_documents(store):
    assert _texts(store, SearchFilters(as_of="2015-06-01")) == {"二〇一〇年的无效宣告程序。", "2010年的第一条。", "判决。"}
    assert _texts(store, SearchFilters(as_of="2024-06-01")) == {"二〇二三年的无效宣告请求。", "2023年的第一条。", "判决。"}
    # combined with the other filters, inside the same search filter
    assert _texts(store, SearchFilters(kinds=frozenset({"statute"}), as_of="2024-06-01")) == {
        "二〇二三年的无效宣告请求。", "2023年的第一条。"}
    # the date filter mirrors the store's: rag.filters.matches agrees on every chunk
    filters = SearchFilters(as_of="2015-06-01")
    excluded = out_of_force_ids(filters, store)
    kept = {chunk.text for _, chunk, document in store.iter_chunks_with_documents()
            if matches(filters, chunk, document, excluded)}
    assert kept == _texts(store, filters)


def test_a_cited_article_is_given_in_the_version_in_force_on_the_date(store):
    question = f"{SHORT}第六十九条"
    old = cited_hits(question, store, known_laws=[SHORT], filters=SearchFilters(as_of="2015-06-01"))
    new = cited_hits(question, store, known_laws=[SHORT], filters=SearchFilters(as_of="2024-06-01"))
    assert [hit.chunk.text for hit in old] == ["二〇一〇年的无效宣告程序。"]
    assert [hit.chunk.text for hit in new] == ["二〇二三年的无效宣告请求。"]
    # before the law took effect at all, it is not cited
    assert cited_hits(question, store, known_laws=[SHORT], filters=SearchFilters(as_of="2005-01-01")) == []


def test_a_version_named_in_the_citation_is_cited_whatever_the_date(store):
    for question in (f"{SHORT}（2010）第六十九条", f"2010年{SHORT}第六十九条", f"原{SHORT}第六十九条"):
        hits = cited_hits(question, store, known_laws=[SHORT], filters=SearchFilters(as_of="2024-06-01"))
        assert [hit.chunk.text for hit in hits] == ["二〇一〇年的无效宣告程序。"], question


def test_the_chunks_left_out_on_a_date_are_those_of_the_versions_not_in_force(store):
    left_out = store.out_of_force_int_ids("2015-06-01")
    texts = {chunk.text for int_id, chunk, _ in store.iter_chunks_with_documents() if int_id in left_out}
    assert texts == {"二〇二三年的无效宣告请求。", "2023年的第一条。"}
    assert store.out_of_force_int_ids("2024-06-01") != left_out


def test_references_are_expanded_to_the_version_in_force_on_the_date(store):
    from factories import make_chunk
    from ipqa.domain import Hit
    from rag.expansion import expand_references

    citing = Hit(chunk=make_chunk("某法 第三条", "依照示例法实施细则第六十九条。", document_id="elsewhere",
                                  references=(f"{SHORT} 第六十九条",)), score=1.0, rank=1)
    def expanded(as_of: str | None) -> list[str]:
        left_out = out_of_force_ids(SearchFilters(as_of=as_of) if as_of else None, store)
        return [hit.chunk.text for hit in expand_references([citing], store, out_of_force=left_out)[1:]]

    assert expanded(None) == ["二〇二三年的无效宣告请求。"]  # no date: the newest
    assert expanded("2015-06-01") == ["二〇一〇年的无效宣告程序。"]
    assert expanded("2005-01-01") == []  # not yet enacted: nothing to bring in
