"""The Celery-backed JobQueue against real Redis: headers carry the context; outages are 503s."""

from __future__ import annotations

import json
import time

import devservers
import pytest
from redis.asyncio import Redis

from api.common.request_context import request_id_var
from api.domain.errors import ServiceUnavailable
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.jobs.celery_app import DEFAULT_QUEUE, create_celery
from api.infrastructure.jobs.idempotency import RedisIdempotencyGuard
from api.infrastructure.jobs.queue import CeleryJobQueue
from tests.support.settings import make_settings, redis_db


async def test_enqueue_publishes_ids_with_tenant_and_request_headers(
    redis_url: str, redis_client: Redis
) -> None:
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
                job_id = await CeleryJobQueue(celery).enqueue("parley.ping", echo="x")
        finally:
            request_id_var.reset(token)
        [raw] = await broker.lrange(DEFAULT_QUEUE, 0, -1)
        message = json.loads(raw)
        headers = message["headers"]
        assert headers["id"] == job_id and headers["task"] == "parley.ping"
        assert headers["parley_tenant_id"] == "c" * 24
        assert headers["parley_request_id"] == "req-42"
        assert "password" not in raw.lower()
    finally:
        await broker.flushdb()
        await broker.aclose()
        celery.close()


async def test_enqueue_with_the_broker_down_is_service_unavailable_quickly() -> None:
    dead = f"redis://127.0.0.1:{devservers.free_port()}/0"
    settings = make_settings("mongodb://unused", dead, "unused")
    celery = create_celery(settings, main="dead-broker", results=False)
    try:
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            await CeleryJobQueue(celery).enqueue("parley.ping", echo="x")
        assert time.monotonic() - started < 10
    finally:
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
