"""Operations tasks: the diagnostic ping and the beat's heartbeat."""

from __future__ import annotations

from typing import Any

import punq

from api.common.request_context import current_request_id
from api.domain.tenancy import current_tenant_or_none
from api.interfaces.jobs.base import parley_task
from api.usecases.operations.record_heartbeat import RecordHeartbeat

PING_JOB = "parley.ping"
HEARTBEAT_JOB = "parley.heartbeat"


@parley_task(PING_JOB)
async def ping(container: punq.Container, echo: str | None = None) -> dict[str, Any]:
    """Diagnostic: answers with the context the job ran in (tenant, request id)."""
    return {"echo": echo, "tenant_id": current_tenant_or_none(), "request_id": current_request_id()}


@parley_task(HEARTBEAT_JOB)
async def heartbeat(container: punq.Container) -> str:
    """Periodic (beat): records that the scheduler and a worker are alive."""
    return (await container.resolve(RecordHeartbeat).execute()).isoformat()
