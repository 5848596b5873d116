"""Process lifecycle ports: what the composition root starts and closes for a process.

Adapters with a lifecycle are registered under these ports, so the processes (API, worker,
CLI) start and close them through `resolve_all` without naming any adapter.
"""

from __future__ import annotations

from typing import Protocol


class Startable(Protocol):
    """Readied once when any process starts, before it serves (e.g. a retention index)."""

    async def start(self) -> None:
        """Do the start-up work; returns when it is done."""
        ...


class Closeable(Protocol):
    """Holds resources (connections, background tasks) released when the process stops."""

    async def close(self) -> None:
        """Release the resources; bounded in time, never holding a shutdown."""
        ...


class Listener(Protocol):
    """A background subscription only the API process runs (the worker and the CLI never
    listen), e.g. the AI stop requests from other replicas; stopped by its `close`."""

    def start(self) -> None:
        """Start listening in the background; returns at once."""
        ...
