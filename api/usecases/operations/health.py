"""Health checks of the servers Parley needs, each bounded in time."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

from api.common.clock import utcnow
from api.domain.jobs import Heartbeats
from api.domain.operations.health import CachePing, DatabasePing

DEFAULT_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    latency_ms: float
    error: str | None = None


async def _measure(ping: DatabasePing | CachePing, within_seconds: float) -> HealthReport:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(within_seconds):
            await ping.ping()
    except TimeoutError:
        return HealthReport(False, _elapsed_ms(started), f"no answer within {within_seconds:g}s")
    except Exception as exc:  # any failure means "unavailable"; the type name is enough
        return HealthReport(False, _elapsed_ms(started), type(exc).__name__)
    return HealthReport(True, _elapsed_ms(started))


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


class CheckDatabaseHealth:
    """Ping the database; never waits longer than `within_seconds`."""

    def __init__(self, database: DatabasePing) -> None:
        self._database = database

    async def execute(self, within_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> HealthReport:
        return await _measure(self._database, within_seconds)


class CheckCacheHealth:
    """Ping the cache; never waits longer than `within_seconds`."""

    def __init__(self, cache: CachePing) -> None:
        self._cache = cache

    async def execute(self, within_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> HealthReport:
        return await _measure(self._cache, within_seconds)


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
