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

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.common.clock import utcnow
from api.domain.messaging.realtime import InboxEvent

log = logging.getLogger(__name__)

STREAM_PREFIX = "parley:inbox:"
EVENT_FIELD = "event"


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
