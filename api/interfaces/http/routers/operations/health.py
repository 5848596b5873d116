"""Liveness and dependency health, each answered within a bounded time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.config import Settings
from api.interfaces.http.deps import Inject
from api.usecases.operations.health import (
    CheckCacheHealth,
    CheckDatabaseHealth,
    CheckJobsHealth,
    HealthReport,
)

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class DependencyHealth(BaseModel):
    status: Literal["ok", "unavailable"]
    latency_ms: float
    error: str | None = None


_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": DependencyHealth, "description": "The server is unavailable."}
}


def _answer(report: HealthReport) -> JSONResponse:
    body = DependencyHealth(
        status="ok" if report.ok else "unavailable",
        latency_ms=report.latency_ms,
        error=report.error,
    )
    headers = {} if report.ok else {"Retry-After": "5"}
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=200 if report.ok else 503, headers=headers
    )


@router.get("/health", summary="The process is up")
async def liveness() -> Liveness:
    return Liveness()


@router.get(
    "/health/db", summary="MongoDB answers", response_model=DependencyHealth, responses=_UNAVAILABLE
)
async def health_db(
    check: Annotated[CheckDatabaseHealth, Inject(CheckDatabaseHealth)],
) -> JSONResponse:
    return _answer(await check.execute())


@router.get(
    "/health/cache",
    summary="Redis answers",
    response_model=DependencyHealth,
    responses=_UNAVAILABLE,
)
async def health_cache(
    check: Annotated[CheckCacheHealth, Inject(CheckCacheHealth)],
) -> JSONResponse:
    return _answer(await check.execute())


class JobsHealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    last_heartbeat: datetime | None
    age_seconds: float | None


@router.get(
    "/health/jobs",
    summary="Background jobs run",
    description=(
        "Beat sends a heartbeat job every `HEARTBEAT_INTERVAL_SECONDS` and a worker runs it; "
        "this is 503 when none arrived within three intervals (beat or every worker down)."
    ),
    response_model=JobsHealthOut,
    responses={503: {"model": JobsHealthOut, "description": "No recent heartbeat."}},
)
async def health_jobs(
    check: Annotated[CheckJobsHealth, Inject(CheckJobsHealth)],
    settings: Annotated[Settings, Inject(Settings)],
) -> JSONResponse:
    report = await check.execute(max_age_seconds=3 * settings.jobs.heartbeat_interval_seconds)
    body = JobsHealthOut(
        status="ok" if report.ok else "unavailable",
        last_heartbeat=report.last_heartbeat,
        age_seconds=report.age_seconds,
    )
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=200 if report.ok else 503,
        headers={} if report.ok else {"Retry-After": "30"},
    )
