"""Reading a tenant's inbox events (the Redis stream the realtime adapter writes)."""

from __future__ import annotations

import json
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
