"""The heartbeat beat sends through a worker, proving both alive."""

from __future__ import annotations

from datetime import datetime

from api.common.clock import utcnow
from api.domain.jobs import Heartbeats


class RecordHeartbeat:
    """Run by beat through a worker: proves both are alive."""

    def __init__(self, heartbeats: Heartbeats) -> None:
        self._heartbeats = heartbeats

    async def execute(self) -> datetime:
        now = utcnow()
        await self._heartbeats.record(now)
        return now
