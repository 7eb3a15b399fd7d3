"""A bounded, thread-safe least-recently-used map for what a finished index version gives readers.

Why it is safe: a snapshot's store is opened ``immutable=1`` (a finished version never changes), so
a chunk read once stays correct for the snapshot's whole life; a new version gets a new store and
so a new, empty cache. Why it is needed: one search reads 150–300 candidate chunks and, for the
learned reranker, every version of each candidate's article; decoding those rows (JSON columns)
cost more than the searches themselves, and the same popular articles come back query after query.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, Hashable, Iterable, Mapping, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most ``capacity`` entries; the least recently read or written goes first."""

    def __init__(self, capacity: int) -> None:
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 0:
            raise ValueError(f"cache capacity must be an integer >= 0, got {capacity!r}")
        self.capacity = capacity
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get_many(self, keys: Iterable[K]) -> dict[K, V]:
        """The cached entries among ``keys`` (marked recently used)."""
        found: dict[K, V] = {}
        with self._lock:
            for key in keys:
                value = self._entries.get(key, _MISSING)
                if value is not _MISSING:
                    self._entries.move_to_end(key)
                    found[key] = value  # type: ignore[assignment]
        return found

    def put_many(self, entries: Mapping[K, V]) -> None:
        if self.capacity == 0:
            return
        with self._lock:
            for key, value in entries.items():
                self._entries[key] = value
                self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)


_MISSING = object()
