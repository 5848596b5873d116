"""The JobQueue adapters against real Redis: headers carry the context; outages are 503s.

`RedisJobQueue` (the default with a Redis broker) must push exactly the message Celery's own
producer pushes (`CeleryJobQueue`), so a worker cannot tell them apart."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import devservers
import pytest
from redis.asyncio import Redis

from api.common.request_context import request_id_var
from api.domain.errors import ServiceUnavailable
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.jobs.celery_app import DEFAULT_QUEUE, create_celery
from api.infrastructure.jobs.idempotency import RedisIdempotencyGuard
from api.infrastructure.jobs.queue import CeleryJobQueue, RedisJobQueue
from tests.support.settings import make_settings, redis_db

Publisher = Callable[[Any, Redis], CeleryJobQueue | RedisJobQueue]
PUBLISHERS: dict[str, Publisher] = {
    "celery": lambda celery, _broker: CeleryJobQueue(celery),
    "redis": lambda celery, broker: RedisJobQueue(celery, broker),
}


async def _published(redis_url: str, make: Publisher) -> tuple[str, dict[str, Any]]:
    """Queue `parley.ping` in a tenant and a request with the publisher; its id and the
    message as the broker holds it."""
    broker_db = 5
    settings = make_settings("mongodb://unused", redis_url, "unused")
    settings.jobs.celery_broker_url = redis_db(redis_url, broker_db)
    celery = create_celery(settings, main="publisher-test", results=False)
    broker = Redis.from_url(redis_db(redis_url, broker_db), decode_responses=True)
    await broker.flushdb()
    try:
        token = request_id_var.set("req-42")
        try:
            with tenant_context(TenantId("c" * 24)):
                job_id = await make(celery, broker).enqueue("parley.ping", echo="x")
        finally:
            request_id_var.reset(token)
        [raw] = await broker.lrange(DEFAULT_QUEUE, 0, -1)
        assert "password" not in raw.lower()
        return job_id, json.loads(raw)
    finally:
        await broker.flushdb()
        await broker.aclose()
        celery.close()


@pytest.mark.parametrize("publisher", list(PUBLISHERS))
async def test_enqueue_publishes_ids_with_tenant_and_request_headers(
    redis_url: str, publisher: str
) -> None:
    job_id, message = await _published(redis_url, PUBLISHERS[publisher])
    headers = message["headers"]
    assert headers["id"] == job_id and headers["task"] == "parley.ping"
    assert headers["parley_tenant_id"] == "c" * 24
    assert headers["parley_request_id"] == "req-42"
    args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert args == [] and kwargs == {"echo": "x"}


async def test_the_redis_publisher_pushes_what_celery_pushes(redis_url: str) -> None:
    """Same envelope, headers and properties (but for the ids and the host-dependent
    origin), and the same body: a worker cannot tell them apart."""
    celery_id, by_celery = await _published(redis_url, PUBLISHERS["celery"])
    redis_id, by_redis = await _published(redis_url, PUBLISHERS["redis"])
    varying = {"id", "root_id", "origin"}
    assert by_redis.keys() == by_celery.keys()
    assert {k: v for k, v in by_redis["headers"].items() if k not in varying} == {
        k: v for k, v in by_celery["headers"].items() if k not in varying
    }
    assert by_redis["headers"]["root_id"] == redis_id
    assert by_celery["headers"]["root_id"] == celery_id
    assert by_redis["headers"].keys() == by_celery["headers"].keys()
    ids = {"correlation_id", "delivery_tag", "reply_to"}
    assert {k: v for k, v in by_redis["properties"].items() if k not in ids} == {
        k: v for k, v in by_celery["properties"].items() if k not in ids
    }
    assert by_redis["properties"]["correlation_id"] == redis_id
    assert base64.b64decode(by_redis["body"]) == base64.b64decode(by_celery["body"])
    for key in ("content-encoding", "content-type"):
        assert by_redis[key] == by_celery[key]


@pytest.mark.parametrize("publisher", list(PUBLISHERS))
async def test_enqueue_with_the_broker_down_is_service_unavailable_quickly(
    publisher: str,
) -> None:
    dead = f"redis://127.0.0.1:{devservers.free_port()}/0"
    settings = make_settings("mongodb://unused", dead, "unused")
    celery = create_celery(settings, main="dead-broker", results=False)
    broker = Redis.from_url(dead, socket_connect_timeout=2, decode_responses=True)
    try:
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            await PUBLISHERS[publisher](celery, broker).enqueue("parley.ping", echo="x")
        assert time.monotonic() - started < 10
    finally:
        await broker.aclose()
        celery.close()


async def test_idempotency_guard_claims_once_until_released(redis_client: Redis) -> None:
    guard = RedisIdempotencyGuard(redis_client)
    assert await guard.claim("job-1", 30)
    assert not await guard.claim("job-1", 30)  # held by the first
    await guard.release("job-1")
    assert await guard.claim("job-1", 30)  # a retry may claim it again
    await guard.complete("job-1", 60)
    await guard.release("job-1")  # releasing a completed job does nothing
    assert not await guard.claim("job-1", 30)
