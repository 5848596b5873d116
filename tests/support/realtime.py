"""Reading a tenant's inbox events (the Redis stream the realtime adapter writes)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import cast

from redis.asyncio import Redis

from api.domain.messaging.realtime import InboxEvent
from api.infrastructure.realtime.streams import EVENT_FIELD, stream_key


async def stream_entries(redis: Redis, tenant_id: str | None) -> list[tuple[str, dict[str, str]]]:
    """The tenant's stream as `(entry id, fields)`, oldest first (a decoding client)."""
    assert tenant_id is not None
    entries = await redis.xrange(stream_key(tenant_id))
    return cast(list[tuple[str, dict[str, str]]], entries or [])


async def published(redis: Redis, tenant_id: str | None) -> list[InboxEvent]:
    """Every event still in the tenant's stream, oldest first."""
    return [
        InboxEvent.model_validate(json.loads(fields[EVENT_FIELD]))
        for _, fields in await stream_entries(redis, tenant_id)
    ]


async def published_when(
    redis: Redis,
    tenant_id: str | None,
    done: Callable[[list[InboxEvent]], bool],
    *,
    timeout: float = 30.0,
) -> list[InboxEvent]:
    """The tenant's events once `done` holds for them (a job writes the database before it
    publishes, so a test that saw the database change waits for the event); the last read
    when `timeout` runs out, for the test's own assertion to fail on."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        events = await published(redis, tenant_id)
        if done(events) or loop.time() >= deadline:
            return events
        await asyncio.sleep(0.05)
