"""A fake of the job queue port."""

from __future__ import annotations

from api.domain.errors import ServiceUnavailable
from api.domain.jobs import JobArgument, JobQueue


class FakeJobs(JobQueue):
    """Remembers what was queued; while `down`, refuses like a broker that is unreachable."""

    def __init__(self, down: bool = False) -> None:
        self.queued: list[tuple[str, dict[str, JobArgument]]] = []
        self.down = down

    async def enqueue(self, job: str, **arguments: JobArgument) -> str:
        if self.down:
            raise ServiceUnavailable("job queue")
        self.queued.append((job, arguments))
        return f"job-{len(self.queued)}"
