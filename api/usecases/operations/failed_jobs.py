"""Failed jobs: kept where operators can see them, and listed."""

from __future__ import annotations

from api.domain.jobs import FailedJob, FailedJobLog


class RecordFailedJob:
    """Keep a failed job where operators can see it (arguments are ids, never secrets)."""

    def __init__(self, failures: FailedJobLog) -> None:
        self._failures = failures

    async def execute(self, job: FailedJob) -> None:
        await self._failures.record(job)


class ListFailedJobs:
    """The most recent failed jobs, newest first."""

    def __init__(self, failures: FailedJobLog) -> None:
        self._failures = failures

    async def execute(self, limit: int = 50) -> list[FailedJob]:
        return await self._failures.recent(limit=limit)
