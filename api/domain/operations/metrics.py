"""Ports for the figures `/metrics` reports about the job system as a whole.

Jobs run in the worker processes, which the API cannot see into: their outcomes are
counted in a store every process reaches (Redis), and read back at scrape time together
with the depth of the job queues.
"""

from __future__ import annotations

from typing import Protocol


class JobOutcomes(Protocol):
    """Cluster-wide counts of job runs, by task name and outcome."""

    async def record(self, task: str, outcome: str) -> None:
        """Count one run of `task` that ended with `outcome` (`succeeded`, `failed`, ...)."""
        ...

    async def counts(self) -> dict[tuple[str, str], int]:
        """Every count so far, by (task, outcome)."""
        ...


class QueueDepths(Protocol):
    """How many jobs wait in each queue (published, not yet taken by a worker)."""

    async def depths(self) -> dict[str, int]:
        """The number of waiting jobs, by queue name."""
        ...
