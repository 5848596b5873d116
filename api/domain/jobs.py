"""Background jobs, as use cases see them: a name and a few plain, non-secret arguments.

Use cases enqueue work only after the work that triggers it has succeeded. The queue adds
the tenant and request ids from the context; jobs carry ids, never secrets, passwords or
whole documents, so a job argument is a plain scalar.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel

JobArgument = str | int | float | bool | None


class JobQueue(Protocol):
    """Send a job to the workers; raises `ServiceUnavailable` when the broker is down."""

    async def enqueue(self, job: str, **arguments: JobArgument) -> str:
        """Queue `job` with `arguments` for the current tenant; returns the job id."""
        ...


class IdempotencyGuard(Protocol):
    """Remembers which pieces of work are done, so redelivery does not repeat an effect."""

    async def claim(self, key: str, hold_seconds: int) -> bool:
        """Take `key` for `hold_seconds`; False when it is done or held by another worker."""
        ...

    async def complete(self, key: str, keep_seconds: int) -> None:
        """Mark `key` done (remembered for `keep_seconds`)."""
        ...

    async def release(self, key: str) -> None:
        """Give `key` back after a failure, so a retry may claim it."""
        ...


class FailedJob(BaseModel):
    """A job that will not run again by itself: permanent failure or retries exhausted."""

    id: str | None = None
    task: str
    task_id: str
    tenant_id: str | None
    request_id: str | None
    arguments: dict[str, JobArgument]
    error_type: str
    error: str
    attempts: int
    failed_at: datetime


class FailedJobLog(Protocol):
    """Where operators find failed jobs (platform-level: it spans tenants)."""

    async def record(self, job: FailedJob) -> None: ...

    async def recent(self, *, limit: int) -> list[FailedJob]: ...


class Heartbeats(Protocol):
    """Proof that the scheduler and a worker run: the time of the last periodic beat."""

    async def record(self, at: datetime) -> None: ...

    async def last(self) -> datetime | None: ...
