"""Contract of :class:`ingest.protocols.ChunkLookup` (and the store's :class:`indexes.protocols.ChunkStore`):
one suite every implementation runs, over the same corpus, asserting behaviour.

Implementations: the in-memory lookup (parsed documents), the SQLite store written directly, and
the store of an index version opened by the snapshot reader. A new implementation joins by adding a
factory to ``LOOKUPS`` (or ``STORES`` when it is a full store).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from index_corpus import HashingEmbedder, corpus
from indexes.build import BuildOptions, build_from_documents
from indexes.protocols import ChunkStore, SearchFilters
from indexes.snapshot import open_snapshot
from indexes.store import SqliteChunkStore
from ingest.citations import resolve, unit_keys
from ingest.lookup import InMemoryChunkLookup
from ingest.protocols import ChunkLookup

CORPUS = corpus()
CHUNKS = [chunk for parsed in CORPUS for chunk in parsed.chunks]
DOCUMENTS = {parsed.document.id: parsed.document for parsed in CORPUS}
KEYS = sorted({key for chunk in CHUNKS for key in unit_keys(chunk)})


def _in_memory(tmp_path: Path, close: list) -> ChunkLookup:
    # every document added twice: the same chunk (same id) is held once
    return InMemoryChunkLookup(CORPUS + CORPUS)


def _sqlite_store(tmp_path: Path, close: list) -> ChunkStore:
    path = tmp_path / "store.sqlite"
    writer = SqliteChunkStore.create(path)
    for parsed in CORPUS:
        writer.add(parsed)
    writer.close()
    store = SqliteChunkStore.open_readonly(path)
    close.append(store.close)
    return store


def _snapshot_store(tmp_path: Path, close: list) -> ChunkStore:
    build_from_documents(tmp_path, CORPUS, embedder=HashingEmbedder(), options=BuildOptions())
    snapshot = open_snapshot(tmp_path, embedder=None)
    close.append(snapshot.close)
    return snapshot.store


STORES: dict[str, Callable[[Path, list], ChunkStore]] = {"sqlite-store": _sqlite_store,
                                                          "snapshot-store": _snapshot_store}
LOOKUPS: dict[str, Callable[[Path, list], ChunkLookup]] = {"in-memory": _in_memory, **STORES}


def _opened(factory, tmp_path_factory):
    close: list = []
    implementation = factory(tmp_path_factory.mktemp("lookup"), close)
    return implementation, close


@pytest.fixture(scope="module", params=sorted(LOOKUPS))
def lookup(request, tmp_path_factory):
    implementation, close = _opened(LOOKUPS[request.param], tmp_path_factory)
    yield implementation
    for action in close:
        action()


@pytest.fixture(scope="module", params=sorted(STORES))
def store(request, tmp_path_factory):
    implementation, close = _opened(STORES[request.param], tmp_path_factory)
    yield implementation
    for action in close:
        action()


# --- ChunkLookup ---------------------------------------------------------------------------------

def test_every_key_gives_exactly_the_chunks_indexed_under_it_each_once(lookup) -> None:
    for key in KEYS:
        found = lookup.chunks_by_unit_key(key)
        assert sorted(c.id for c in found) == sorted(c.id for c in CHUNKS if key in unit_keys(c)), key


def test_chunks_come_back_equal_to_what_was_added(lookup) -> None:
    by_id = {c.id: c for c in CHUNKS}
    for key in KEYS:
        for chunk in lookup.chunks_by_unit_key(key):
            assert chunk == by_id[chunk.id]
            assert chunk.parts == by_id[chunk.id].parts and chunk.references == by_id[chunk.id].references


def test_documents_by_id_and_none_for_an_unknown_one(lookup) -> None:
    for document_id, document in DOCUMENTS.items():
        assert lookup.document(document_id) == document
    assert lookup.document("no-such-document") is None


def test_an_unknown_key_finds_nothing(lookup) -> None:
    assert lookup.chunks_by_unit_key("cn|没有这部法|第一条") == []
    assert lookup.chunks_by_unit_key("") == []


def test_citations_resolve_the_same_through_every_lookup(lookup) -> None:
    resolutions = resolve("《中华人民共和国专利法》第十一条", lookup)
    assert [r.version for r in resolutions] == ["2020-10-17", "2008-12-27"]
    assert all(r.chunk.citation == "专利法 第十一条" for r in resolutions)
    [part] = resolve("专利法第二条第二款", lookup)[:1]
    assert part.part is not None and part.part.label == "第二款"
    assert resolve("专利法第九十九条", lookup) == []


# --- ChunkStore (the store's wider contract) -------------------------------------------------------

def test_chunk_by_id_and_many_by_id(store) -> None:
    for chunk in CHUNKS:
        assert store.chunk(chunk.id) == chunk
    assert store.chunk("no-such-chunk") is None
    wanted = [CHUNKS[3].id, "no-such-chunk", CHUNKS[0].id]
    assert sorted(c.id for c in store.chunks(wanted)) == sorted([CHUNKS[3].id, CHUNKS[0].id])


def test_many_keys_at_once_equal_one_key_at_a_time(store) -> None:
    asked = KEYS + ["cn|没有这部法|第一条"]
    many = store.chunks_by_unit_keys(asked)
    assert set(many) == set(asked)  # every key asked is in the result
    for key in asked:
        assert [c.id for c in many[key]] == [c.id for c in store.chunks_by_unit_key(key)]


def test_versions_of_a_unit_come_newest_first_and_newest_versions_name_the_first(store) -> None:
    key = "cn|专利法|第十一条"
    versions = [store.document(c.document_id).version for c in store.chunks_by_unit_key(key)]
    assert versions == sorted(versions, reverse=True) == ["2020-10-17", "2008-12-27"]
    newest = store.newest_versions(KEYS + ["cn|没有这部法|第一条"])
    assert "cn|没有这部法|第一条" not in newest
    for key, version in newest.items():
        first = store.chunks_by_unit_key(key)[0]
        assert (version.chunk_id, version.text) == (first.id, first.text)


def test_count_and_pages_of_documents_with_filters(store) -> None:
    assert store.count_chunks() == len(CHUNKS)
    pages = [store.documents(offset=offset, limit=2) for offset in range(0, len(DOCUMENTS) + 2, 2)]
    listed = [d.id for page in pages for d in page]
    assert sorted(listed) == sorted(DOCUMENTS) and len(listed) == len(set(listed))
    us = store.documents(limit=50, filters=SearchFilters(jurisdictions=frozenset({"US"})))
    assert sorted(d.id for d in us) == sorted(i for i, d in DOCUMENTS.items() if d.jurisdiction == "US")
    with pytest.raises(ValueError, match="offset and limit"):
        store.documents(offset=-1)
