"""`JobQueue` adapter: publish to Celery without blocking the event loop."""

from __future__ import annotations

import asyncio
import logging

from celery import Celery
from kombu.exceptions import KombuError, OperationalError
from redis.exceptions import RedisError

from api.common.request_context import current_request_id
from api.domain.errors import ServiceUnavailable
from api.domain.jobs import JobArgument
from api.domain.tenancy import current_tenant_or_none

log = logging.getLogger(__name__)

# Headers the worker reads to restore the context the job was queued in.
TENANT_HEADER = "parley_tenant_id"
REQUEST_HEADER = "parley_request_id"

_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
_SCALARS = (str, int, float, bool, type(None))


class CeleryJobQueue:
    def __init__(self, celery: Celery) -> None:
        self._celery = celery

    async def enqueue(self, job: str, **arguments: JobArgument) -> str:
        for name, value in arguments.items():
            if not isinstance(value, _SCALARS):
                raise TypeError(f"job argument {name!r} must be a plain scalar (ids, not objects)")
        headers = {TENANT_HEADER: current_tenant_or_none(), REQUEST_HEADER: current_request_id()}
        try:
            result = await asyncio.to_thread(
                self._celery.send_task,
                job,
                kwargs=arguments,
                headers=headers,
                retry=True,
                retry_policy=_PUBLISH_RETRY,
            )
        except (OperationalError, KombuError, RedisError, OSError) as exc:
            log.warning("could not queue %s: %s", job, type(exc).__name__)
            raise ServiceUnavailable("job queue") from exc
        log.info("queued %s as %s", job, result.id)
        return str(result.id)
