"""The SQLite chunk store: round trips, unit keys, filters, paging, stable int ids, read-only use."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from index_corpus import copyright_law, corpus, patent, patent_law, simple_unit_keys, title35
from indexes.protocols import ChunkStore, SearchFilters
from indexes.store import SqliteChunkStore, int_id_for
from ipqa.errors import IndexUnavailableError


def _built(path: Path, documents=None) -> Path:
    store = SqliteChunkStore.create(path, unit_keys_of=simple_unit_keys)
    for parsed in documents if documents is not None else corpus():
        store.add(parsed)
    store.compact()
    store.close()
    return path


@pytest.fixture()
def store(tmp_path: Path):
    s = SqliteChunkStore.open_readonly(_built(tmp_path / "store.sqlite"))
    yield s
    s.close()


def test_round_trip_rebuilds_equal_frozen_chunks_and_documents(store: SqliteChunkStore) -> None:
    assert isinstance(store, ChunkStore)
    for parsed in corpus():
        assert store.document(parsed.document.id) == parsed.document
        assert dict(store.document(parsed.document.id).metadata) == dict(parsed.document.metadata)
        for chunk in parsed.chunks:
            stored = store.chunk(chunk.id)
            assert stored == chunk
            # dataclass equality covers every field, but say the JSON-serialised ones explicitly
            assert stored.parts == chunk.parts and stored.hierarchy == chunk.hierarchy
            assert stored.references == chunk.references and dict(stored.metadata) == dict(chunk.metadata)
    assert store.chunk("nope") is None and store.document("nope") is None
    assert store.count_chunks() == sum(len(p.chunks) for p in corpus())


def test_chunks_keeps_the_order_asked_for_and_skips_unknown_ids(store: SqliteChunkStore) -> None:
    ids = [c.id for c in title35().chunks][::-1]
    assert [c.id for c in store.chunks([ids[0], "missing", *ids[1:]])] == ids


def test_unit_keys_find_every_version_newest_first_and_parts(store: SqliteChunkStore) -> None:
    hits = store.chunks_by_unit_key("专利法 第二条")
    versions = [store.document(c.document_id).version for c in hits]
    assert versions == ["2020-10-17", "2008-12-27"]
    assert [c.citation for c in store.chunks_by_unit_key("专利法 第二条 第二款")] == ["专利法 第二条"] * 2
    assert store.chunks_by_unit_key("35 U.S.C. § 271 (a)")[0].citation == "35 U.S.C. § 271"
    assert store.chunks_by_unit_key("专利法 第九十九条") == []


def test_int_ids_are_content_derived_and_stable_across_stores(tmp_path: Path) -> None:
    a = _built(tmp_path / "a.sqlite")
    b = _built(tmp_path / "b.sqlite", [title35(), patent(), patent_law("2020-10-17", extra="（修订）")])
    ids_a = dict(sqlite3.connect(a).execute("SELECT id, int_id FROM chunks").fetchall())
    ids_b = dict(sqlite3.connect(b).execute("SELECT id, int_id FROM chunks").fetchall())
    assert ids_b and all(ids_a[cid] == iid for cid, iid in ids_b.items())
    assert all(iid == int_id_for(cid) and 0 < iid < 2**63 for cid, iid in ids_a.items())


def test_colliding_int_id_is_probed_not_overwritten(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("indexes.store.int_id_for", lambda chunk_id: 42)
    store = SqliteChunkStore.create(tmp_path / "s.sqlite", unit_keys_of=simple_unit_keys)
    ids = store.add(title35())
    assert ids == [42, 43, 44]
    assert [c.citation for c in store.chunks_by_int_ids(ids).values()] == [c.citation for c in title35().chunks]


def test_adding_the_same_document_twice_is_a_no_op(tmp_path: Path) -> None:
    store = SqliteChunkStore.create(tmp_path / "s.sqlite", unit_keys_of=simple_unit_keys)
    assert len(store.add(title35())) == 3
    assert store.add(title35()) == []
    assert store.count_chunks() == 3


def test_remove_document_returns_its_int_ids_and_forgets_its_unit_keys(tmp_path: Path) -> None:
    store = SqliteChunkStore.create(tmp_path / "s.sqlite", unit_keys_of=simple_unit_keys)
    for parsed in corpus():
        store.add(parsed)
    old = patent_law("2008-12-27")
    removed = store.remove_document(old.document.id)
    assert sorted(removed) == sorted(int_id_for(c.id) for c in old.chunks)
    assert store.document(old.document.id) is None
    assert [store.document(c.document_id).version for c in store.chunks_by_unit_key("专利法 第二条")] == ["2020-10-17"]
    assert store.remove_document(old.document.id) == []


@pytest.mark.parametrize(
    ("filters", "expected_citations"),
    [
        (SearchFilters(jurisdictions=frozenset({"US"})), {c.citation for p in (title35(), patent()) for c in p.chunks}),
        (SearchFilters(kinds=frozenset({"patent"})), {c.citation for c in patent().chunks}),
        (SearchFilters(titles=frozenset({"中华人民共和国著作权法"})), {c.citation for c in copyright_law().chunks}),
        (SearchFilters(languages=frozenset({"zh"}), version_to="2008-12-31"),
         {c.citation for c in patent_law("2008-12-27").chunks}),
        (SearchFilters(jurisdictions=frozenset({"CN"}), version_from="2020-11-01"),
         {c.citation for c in copyright_law().chunks}),
        (SearchFilters(document_ids=frozenset({title35().document.id}), kinds=frozenset({"patent"})), set()),
        (SearchFilters(kinds=frozenset()), set()),
    ],
)
def test_allowed_int_ids_matches_the_filter(store: SqliteChunkStore, filters, expected_citations) -> None:
    allowed = store.allowed_int_ids(filters)
    assert allowed.dtype == np.int64 and list(allowed) == sorted(allowed)
    assert {c.citation for c in store.chunks_by_int_ids(allowed).values()} == expected_citations


def test_no_filter_means_no_restriction(store: SqliteChunkStore) -> None:
    assert store.allowed_int_ids(None) is None
    assert store.allowed_int_ids(SearchFilters()) is None


def test_documents_paging_covers_all_once_and_filters(store: SqliteChunkStore) -> None:
    pages = [store.documents(offset=o, limit=2) for o in range(0, 6, 2)]
    ids = [d.id for page in pages for d in page]
    assert sorted(ids) == sorted(p.document.id for p in corpus()) and len(set(ids)) == len(ids)
    zh = store.documents(filters=SearchFilters(languages=frozenset({"zh"})))
    assert {d.title for d in zh} == {"中华人民共和国专利法", "中华人民共和国著作权法"}
    assert store.count_documents(SearchFilters(kinds=frozenset({"patent"}))) == 1
    with pytest.raises(ValueError, match="offset"):
        store.documents(offset=-1)


def test_counts_per_kind_and_language(store: SqliteChunkStore) -> None:
    counts = store.counts()
    assert counts["documents"] == 5 and counts["chunks"] == 18
    assert counts["chunks_by_kind"] == {"patent": 4, "statute": 14}
    assert counts["chunks_by_language"] == {"en": 7, "zh": 11}


def test_readonly_store_refuses_writes_and_serves_threads(store: SqliteChunkStore) -> None:
    with pytest.raises(sqlite3.OperationalError):
        store.add(patent("US 1,234,567 B1", "door hinge"))
    wanted = [c.id for p in corpus() for c in p.chunks]
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(20):
                results.append([c.id for c in store.chunks(wanted)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 80 and all(r == wanted for r in results)


def test_missing_or_corrupt_store_is_index_unavailable(tmp_path: Path) -> None:
    with pytest.raises(IndexUnavailableError, match="missing"):
        SqliteChunkStore.open_readonly(tmp_path / "none.sqlite")
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexUnavailableError, match="unreadable"):
        SqliteChunkStore.open_readonly(bad)


def test_closed_store_says_so(tmp_path: Path) -> None:
    s = SqliteChunkStore.open_readonly(_built(tmp_path / "s.sqlite"))
    s.close()
    with pytest.raises(IndexUnavailableError, match="closed"):
        s.count_chunks()


def test_index_rows_of_some_ids_are_the_matching_rows_in_id_order(store: SqliteChunkStore) -> None:
    ids, texts, languages = store.index_rows()
    assert list(ids) == sorted(ids)
    wanted = [int(ids[3]), int(ids[0]), 12345, int(ids[-1])]  # any order, one unknown id
    some_ids, some_texts, some_languages = store.index_rows(wanted)
    positions = [0, 3, len(ids) - 1]
    assert some_ids.tolist() == [int(ids[p]) for p in positions]
    assert some_texts == [texts[p] for p in positions] and some_languages == [languages[p] for p in positions]


def test_an_updated_store_overwrites_removed_text_and_reports_its_free_pages(tmp_path: Path) -> None:
    path = _built(tmp_path / "s.sqlite")
    store = SqliteChunkStore.open_for_update(path, unit_keys_of=simple_unit_keys)
    assert store.free_fraction() == 0.0
    removed = patent()
    secret = removed.chunks[0].text[:40]
    store.remove_document(removed.document.id)
    store.close()
    assert secret.encode("utf-8") not in path.read_bytes()  # secure_delete: not left in free pages
    store = SqliteChunkStore.open_for_update(path, unit_keys_of=simple_unit_keys)
    assert 0.0 <= store.free_fraction() < 1.0
    store.close()
