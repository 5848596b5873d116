"""`JobQueue` adapters: publish Celery jobs without blocking the event loop.

`RedisJobQueue` (a Redis broker, the default) builds the message with Celery's own
protocol code (`app.amqp.as_task_v2`, protocol 2, JSON) and pushes it with the async Redis
client onto the queue's list, exactly where kombu's Redis transport puts it: no thread
hop and no GIL contention with the event loop, which made publishing the largest cost of
a webhook acknowledgement (see bench/README.md). Jobs queued at the same moment go in one
`LPUSH` (`GroupCommit`), in the order they were queued. `CeleryJobQueue` publishes through
Celery's producer in a thread, for other brokers (e.g. RabbitMQ).

Both add the tenant and request ids as headers the worker reads (`TENANT_HEADER`,
`REQUEST_HEADER`), and answer `ServiceUnavailable` when the broker cannot be reached.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from celery import Celery
from celery.utils.nodenames import anon_nodename
from kombu.exceptions import KombuError, OperationalError
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from api.common.group_commit import GroupCommit
from api.common.request_context import current_request_id
from api.domain.errors import ServiceUnavailable
from api.domain.jobs import JobArgument
from api.domain.tenancy import current_tenant_or_none
from api.infrastructure.jobs.celery_app import DEFAULT_QUEUE

log = logging.getLogger(__name__)

# Headers the worker reads to restore the context the job was queued in.
TENANT_HEADER = "parley_tenant_id"
REQUEST_HEADER = "parley_request_id"

_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
_RETRY_DELAYS = (0.0, 0.5)  # the same policy for the Redis publisher: 3 attempts in all
_SCALARS = (str, int, float, bool, type(None))
_PERSISTENT = 2  # AMQP delivery mode, as Celery sets it


def _checked(arguments: Mapping[str, JobArgument]) -> None:
    for name, value in arguments.items():
        if not isinstance(value, _SCALARS):
            raise TypeError(f"job argument {name!r} must be a plain scalar (ids, not objects)")


def _context_headers() -> dict[str, str | None]:
    return {TENANT_HEADER: current_tenant_or_none(), REQUEST_HEADER: current_request_id()}


class CeleryJobQueue:
    """Publishes through Celery's producer (any broker), in a thread."""

    def __init__(self, celery: Celery) -> None:
        self._celery = celery

    async def enqueue(self, job: str, **arguments: JobArgument) -> str:
        _checked(arguments)
        try:
            result = await asyncio.to_thread(
                self._celery.send_task,
                job,
                kwargs=arguments,
                headers=_context_headers(),
                retry=True,
                retry_policy=_PUBLISH_RETRY,
            )
        except (OperationalError, KombuError, RedisError, OSError) as exc:
            log.warning("could not queue %s: %s", job, type(exc).__name__)
            raise ServiceUnavailable("job queue") from exc
        log.info("queued %s as %s", job, result.id)
        return str(result.id)


class RedisJobQueue:
    """Publishes to a Redis broker with the async client (`LPUSH` of kombu's envelope).

    Celery's `task-sent` event is not sent on this path: Flower lists a job from the moment
    a worker receives it (the queue's length is on its broker page)."""

    def __init__(self, celery: Celery, broker: Redis, queue: str = DEFAULT_QUEUE) -> None:
        self._celery = celery
        self._broker = broker
        self._queue = queue
        self._pushes: GroupCommit[str, None] = GroupCommit(self._push)
        self._origin = anon_nodename()  # what Celery computes for every message otherwise
        self._repr_max = celery.amqp.kwargsrepr_maxsize

    async def enqueue(self, job: str, **arguments: JobArgument) -> str:
        _checked(arguments)
        job_id = str(uuid.uuid4())
        try:
            await self._pushes.submit(self._envelope(job_id, job, dict(arguments)))
        except (RedisError, OSError) as exc:
            log.warning("could not queue %s: %s", job, type(exc).__name__)
            raise ServiceUnavailable("job queue") from exc
        log.info("queued %s as %s", job, job_id)
        return job_id

    async def _push(self, envelopes: list[str]) -> list[None]:
        """One `LPUSH` of every message queued meanwhile (the worker pops from the other
        end, so they run in the order they were queued); a lost connection is tried again."""
        for attempt, delay in enumerate(_RETRY_DELAYS):
            try:
                await self._broker.lpush(self._queue, *envelopes)
                break
            except RedisConnectionError:
                log.info(
                    "queueing %d jobs failed (attempt %d); retrying", len(envelopes), attempt + 1
                )
                await asyncio.sleep(delay)
        else:
            await self._broker.lpush(self._queue, *envelopes)  # the last attempt raises
        return [None] * len(envelopes)

    async def close(self) -> None:
        await self._broker.aclose()

    def _envelope(self, job_id: str, job: str, arguments: dict[str, Any]) -> str:
        """kombu's Redis message for Celery's protocol-2 task message (what `send_task`
        would push): the body JSON-encoded then base64, properties for a direct put."""
        # The arguments are a few scalars: their plain repr is what Celery's `saferepr`
        # gives, at a fraction of its cost.
        message = self._celery.amqp.as_task_v2(
            job_id,
            job,
            args=(),
            kwargs=arguments,
            argsrepr="()",
            kwargsrepr=repr(arguments)[: self._repr_max],
            origin=self._origin,
            ignore_result=None,  # as `send_task` leaves it: the task's own option decides
        )
        headers = {**message.headers, **_context_headers()}
        body = json.dumps(message.body).encode()
        properties = {
            **message.properties,
            "reply_to": self._celery.thread_oid,
            "delivery_mode": _PERSISTENT,
            "delivery_info": {"exchange": "", "routing_key": self._queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        }
        return json.dumps(
            {
                "body": base64.b64encode(body).decode(),
                "content-encoding": "utf-8",
                "content-type": "application/json",
                "headers": headers,
                "properties": properties,
            }
        )
