"""`InboxEvents` on Redis Streams: one stream per tenant, `parley:inbox:{tenant_id}`.

Each event is one entry (field `event`: the JSON of the `InboxEvent`); the entry id is
the event's cursor. Every API replica reads the streams of the tenants it has sockets
for (`XREAD` from its last id), so an event written by any process (an API replica or a
worker) reaches every socket, and a reconnecting socket replays from its cursor.
Entries older than the retention are trimmed as new ones are added (`MINID`, exact, so
what a stream keeps is exactly the last `retention_seconds`; the ids are the Redis
server's milliseconds and this process's clock is assumed close to it).
"""

from __future__ import annotations

import json
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.common.clock import utcnow
from api.domain.messaging.realtime import InboxEvent
from api.infrastructure.cache.redis import cache_unavailable_on_error

log = logging.getLogger(__name__)

STREAM_PREFIX = "parley:inbox:"
EVENT_FIELD = "event"
FORGET_BATCH = 500


def stream_key(tenant_id: str, prefix: str = STREAM_PREFIX) -> str:
    return f"{prefix}{tenant_id}"


class RedisStreamInboxEvents:
    def __init__(
        self, redis: Redis, *, retention_seconds: float, prefix: str = STREAM_PREFIX
    ) -> None:
        if retention_seconds <= 0:
            raise ValueError("retention_seconds must be positive")
        self._redis = redis
        self._retention_ms = int(retention_seconds * 1000)
        self._prefix = prefix

    async def publish(self, event: InboxEvent) -> str | None:
        oldest_kept = int(utcnow().timestamp() * 1000) - self._retention_ms
        try:
            cursor = await self._redis.xadd(
                stream_key(event.tenant_id, self._prefix),
                {EVENT_FIELD: event.model_dump_json()},
                minid=max(oldest_kept, 0),
                approximate=False,
            )
        except RedisError as exc:
            log.warning("inbox event %s not published: %s", event.type.value, exc)
            return None
        return cursor if isinstance(cursor, str) else cursor.decode()

    async def forget_conversations(self, tenant_id: str, conversation_ids: list[str]) -> int:
        """`XDEL` every entry of the tenant's stream whose event names one of the
        conversations, reading the stream a batch at a time (`XRANGE`, exclusive from the
        last id read); an entry is matched by a text search of its JSON first, confirmed by
        parsing it, so the loop parses only the entries it deletes."""
        if not conversation_ids:
            return 0
        wanted = set(conversation_ids)
        needles = [f'"conversation_id":"{c}"' for c in wanted]
        key = stream_key(tenant_id, self._prefix)
        removed, start = 0, "-"
        with cache_unavailable_on_error():
            while True:
                batch = await self._redis.xrange(key, min=start, max="+", count=FORGET_BATCH)
                entries = [(_text(entry_id), fields or {}) for entry_id, fields in batch or []]
                doomed = [
                    entry_id
                    for entry_id, fields in entries
                    if _names_one(_text(fields.get(EVENT_FIELD)), needles, wanted)
                ]
                if doomed:
                    removed += await self._redis.xdel(key, *doomed)
                if len(entries) < FORGET_BATCH:
                    return removed
                start = f"({entries[-1][0]}"


def _text(value: bytes | str | None) -> str:
    """A stream field or id as text (the client decodes replies; bytes are tolerated)."""
    return value.decode() if isinstance(value, bytes) else (value or "")


def _names_one(raw: str, needles: list[str], wanted: set[str]) -> bool:
    """Whether the event JSON `raw` belongs to one of the `wanted` conversations."""
    if not any(needle in raw for needle in needles):
        return False
    try:
        return json.loads(raw).get("conversation_id") in wanted
    except (ValueError, AttributeError):
        return False
