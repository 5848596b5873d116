"""Values read through a process-local cache for a few seconds, and dropped by the
writes made through the same process.

`TtlCache.get(key, read)` answers a value read less than `ttl_seconds` ago (0: nothing is
kept), else reads it; at most `max_entries` are kept, the least recently stored going
first. A write goes inside `changing(key)` (`None`: every entry): the entry is dropped
before and after it, and a read that started before the write ended is not kept, so the
process that made a change sees it at once; other processes see it within the TTL.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(
        self,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._max = max_entries
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._changes = 0  # writes begun or ended here: a read under way meanwhile is stale

    async def get(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._clock():
            return entry[1]
        changes = self._changes
        value = await read()
        if self._ttl > 0 and self._changes == changes:
            self._entries[key] = (self._clock() + self._ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return value

    @asynccontextmanager
    async def changing(self, key: K | None = None) -> AsyncIterator[None]:
        """Around a write of `key`'s value (None: of any)."""
        self.drop(key)
        try:
            yield
        finally:
            self.drop(key)

    def drop(self, key: K | None = None) -> None:
        """Forget `key`'s value (None: every value), and any read under way."""
        self._changes += 1
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)
