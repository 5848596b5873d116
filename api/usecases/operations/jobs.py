"""Use cases of the job machinery itself: failures, heartbeats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from api.common.clock import utcnow
from api.domain.jobs import FailedJob, FailedJobLog, Heartbeats


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


class RecordHeartbeat:
    """Run by beat through a worker: proves both are alive."""

    def __init__(self, heartbeats: Heartbeats) -> None:
        self._heartbeats = heartbeats

    async def execute(self) -> datetime:
        now = utcnow()
        await self._heartbeats.record(now)
        return now


@dataclass(frozen=True)
class JobsHealth:
    ok: bool
    last_heartbeat: datetime | None
    age_seconds: float | None


class CheckJobsHealth:
    """Healthy when a heartbeat arrived within `max_age_seconds`."""

    def __init__(self, heartbeats: Heartbeats) -> None:
        self._heartbeats = heartbeats

    async def execute(self, max_age_seconds: float) -> JobsHealth:
        last = await self._heartbeats.last()
        if last is None:
            return JobsHealth(False, None, None)
        age = (utcnow() - last).total_seconds()
        return JobsHealth(age <= max_age_seconds, last, round(age, 1))
