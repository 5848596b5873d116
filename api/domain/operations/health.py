"""Ports for checking that the servers Parley depends on answer."""

from __future__ import annotations

from typing import Protocol


class DatabasePing(Protocol):
    """Round trip to the database; raises on failure."""

    async def ping(self) -> None: ...


class CachePing(Protocol):
    """Round trip to the cache (Redis); raises on failure."""

    async def ping(self) -> None: ...
