"""The readers' bounded cache, the read-only store's use of it, and freezing a loaded heap."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from index_corpus import corpus, simple_unit_keys
from indexes.read_cache import BoundedCache
from indexes.store import SqliteChunkStore
from ipqa.runtime import SERVING_GC_THRESHOLDS, settle_heap


def test_bounded_cache_evicts_the_least_recently_used_entry() -> None:
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put_many({"a": 1, "b": 2})
    assert cache.get_many(["a"]) == {"a": 1}  # "a" is now the most recently used
    cache.put_many({"c": 3})
    assert cache.get_many(["a", "b", "c"]) == {"a": 1, "c": 3}
    assert len(cache) == 2


def test_a_cache_of_capacity_zero_keeps_nothing_and_a_bad_capacity_is_named() -> None:
    cache: BoundedCache[str, int] = BoundedCache(0)
    cache.put_many({"a": 1})
    assert cache.get_many(["a"]) == {} and len(cache) == 0
    with pytest.raises(ValueError, match="-1"):
        BoundedCache(-1)


def _store(tmp_path: Path, **options) -> SqliteChunkStore:
    path = tmp_path / "store.sqlite"
    writer = SqliteChunkStore.create(path, unit_keys_of=simple_unit_keys)
    for parsed in corpus():
        writer.add(parsed)
    writer.close()
    return SqliteChunkStore.open_readonly(path, **options)


@pytest.mark.parametrize("cache_chunks", [0, 3, 10_000])
def test_cached_reads_equal_uncached_ones_whatever_the_capacity(tmp_path: Path, cache_chunks: int) -> None:
    cached = _store(tmp_path, cache_chunks=cache_chunks)
    keys = ["专利法 第二条", "专利法 第二条 第二款", "35 U.S.C. § 271 (a)", "专利法 第九十九条"]
    chunks = [c for parsed in corpus() for c in parsed.chunks]
    for _ in range(2):  # the second round is served from the cache where it holds them
        by_keys = cached.chunks_by_unit_keys(keys)
        assert list(by_keys) == keys
        for key in keys:
            assert by_keys[key] == cached.chunks_by_unit_key(key)
        assert by_keys["专利法 第九十九条"] == []
        from indexes.store import int_id_for

        loaded = cached.chunks_by_int_ids(int_id_for(c.id) for c in chunks)
        assert {chunk.id for chunk in loaded.values()} == {c.id for c in chunks}
        assert all(loaded[int_id_for(c.id)] == c for c in chunks)
    cached.close()


def test_newest_versions_name_the_first_version_of_each_unit(tmp_path: Path) -> None:
    store = _store(tmp_path)
    newest = store.newest_versions(["专利法 第二条", "专利法 第九十九条"])
    versions = store.chunks_by_unit_key("专利法 第二条")
    assert len(versions) == 2  # two versions of the law in the corpus
    assert list(newest) == ["专利法 第二条"]  # a key of no chunk is left out
    assert newest["专利法 第二条"] == (versions[0].id, versions[0].text)
    store.close()


def test_a_cached_chunk_is_a_fresh_object_whose_metadata_cannot_change_the_cache(tmp_path: Path) -> None:
    store = _store(tmp_path)
    key = "专利法 第二条"
    first, again = store.chunks_by_unit_key(key)[0], store.chunks_by_unit_key(key)[0]
    assert first == again and first is not again
    with pytest.raises(TypeError):
        first.metadata["x"] = 1  # type: ignore[index]
    store.close()


def test_only_a_read_only_store_may_cache(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="read-only"):
        SqliteChunkStore(tmp_path / "w.sqlite", readonly=False, cache_chunks=10)


def test_the_store_cache_holds_nothing_the_cyclic_collector_must_scan(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.chunks_by_unit_keys(["专利法 第二条", "35 U.S.C. § 271 (a)"])
    for _ in range(3):  # each collection untracks one more level of tuples of plain values
        gc.collect()
    entries = list(store._chunk_cache._entries.values()) + list(store._versions_cache._entries.values())
    assert entries and not any(gc.is_tracked(entry) for entry in entries)
    store.close()


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_settle_heap_freezes_what_is_alive_and_collects_cycles_dropped_since() -> None:
    thresholds = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        cycle = _Cycle()
        alive = weakref.ref(cycle)
        settle_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == SERVING_GC_THRESHOLDS  # a serving process collects less often
        del cycle  # a garbage cycle among frozen objects: only the next settle_heap can free it
        gc.collect()
        assert alive() is not None
        settle_heap()
        assert alive() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
