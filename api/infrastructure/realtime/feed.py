"""`InboxFeed` on Redis Streams: one reader per API process, fanned out to its sockets.

The reader is one task doing blocking `XREAD`s over the streams of the tenants that have
sockets in this process (`parley:inbox:{tenant_id}`, from the last id it delivered), on a
connection of its own (a block longer than the shared pool's socket timeout). A socket's
`listen` adds its tenant (its position is the stream's last id at that moment, so nothing
published after the call is missed) and wakes the blocked read through this process's
wake stream (`parley:inbox-wake:{uuid}`), so the new tenant is read at once. Delivery
calls each listener synchronously (they queue and return): a slow socket never holds the
reader. After a Redis outage the reader retries with backoff from the positions it had,
so the sockets miss nothing that is still kept.

`replay` reads a tenant's stream after a cursor with `XRANGE`. A cursor is refused as
expired when the events after it may no longer all be there: older than the retention
(by the Redis server's clock, the one that made the ids), beyond the stream's last id (the
stream was lost and restarted) or when the stream is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from api.domain.messaging.realtime import (
    CursoredEvent,
    CursorExpired,
    Deliver,
    InboxEvent,
    cursor_key,
)
from api.infrastructure.cache.redis import cache_unavailable_on_error
from api.infrastructure.realtime.streams import EVENT_FIELD, STREAM_PREFIX, stream_key

log = logging.getLogger(__name__)

WAKE_PREFIX = "parley:inbox-wake:"
WAKE_TTL_MS = 3_600_000
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0
CLOSE_SECONDS = 2.0
START = "0-0"

Entries = list[tuple[str, dict[str, str]]]  # what a decoding client reads from a stream


@dataclass
class _Tenant:
    position: str
    listeners: set[Deliver] = field(default_factory=set)


def _decode(entry_id: str, fields: dict[str, str]) -> CursoredEvent | None:
    try:
        event = InboxEvent.model_validate(json.loads(fields[EVENT_FIELD]))
    except (KeyError, ValueError, ValidationError):
        log.warning("inbox event %s unreadable: skipped", entry_id)
        return None
    return CursoredEvent(cursor=entry_id, event=event)


class RedisStreamInboxFeed:
    """`redis`: the process's shared pool (listen, replay, wake-ups); `reader`: a client
    of its own for the blocking reads, whose socket timeout exceeds `block_ms`."""

    def __init__(
        self,
        redis: Redis,
        reader: Redis,
        *,
        retention_seconds: float,
        block_ms: int = 5000,
        batch: int = 500,
        prefix: str = STREAM_PREFIX,
    ) -> None:
        self._redis = redis
        self._reader = reader
        self._retention_ms = int(retention_seconds * 1000)
        self._block_ms = block_ms
        self._batch = batch
        self._prefix = prefix
        self._wake_key = f"{WAKE_PREFIX}{uuid.uuid4().hex}"
        self._wake_position = START
        self._tenants: dict[str, _Tenant] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.reading = asyncio.Event()  # set while the last XREAD succeeded (tests, health)

    def start(self) -> None:
        """Start the reader (the API at start-up; `listen` does too)."""
        if not self._closing and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(
                self._read(), name="inbox-feed-reader"
            )

    async def listen(self, tenant_id: str, deliver: Deliver) -> Callable[[], None]:
        self.start()
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            position = await self._last_id(tenant_id)
            tenant = self._tenants.get(tenant_id)  # another listen may have added it meanwhile
            if tenant is None:
                tenant = self._tenants[tenant_id] = _Tenant(position)
                self._changed.set()
                await self._wake()
        tenant.listeners.add(deliver)

        def release() -> None:
            current = self._tenants.get(tenant_id)
            if current is not None:
                current.listeners.discard(deliver)
                if not current.listeners:
                    del self._tenants[tenant_id]

        return release

    async def replay(self, tenant_id: str, after: str, *, limit: int) -> list[CursoredEvent]:
        wanted = cursor_key(after)
        key = stream_key(tenant_id, self._prefix)
        with cache_unavailable_on_error():
            seconds, micros = await self._redis.time()
            now_ms = seconds * 1000 + micros // 1000
            if wanted[0] < now_ms - self._retention_ms:
                raise CursorExpired("Events this old are no longer kept: re-read over HTTP.")
            try:
                info: dict[str, Any] = await self._redis.xinfo_stream(key)
            except ResponseError:  # no such key: the log was lost (or never written)
                raise CursorExpired("This inbox's events are gone: re-read over HTTP.") from None
            if wanted > cursor_key(str(info["last-generated-id"])):
                raise CursorExpired("The events log was reset: re-read over HTTP.")
            entries = cast(Entries, await self._redis.xrange(key, min=f"({after}", count=limit))
        found = (_decode(entry_id, fields) for entry_id, fields in entries or [])
        return [event for event in found if event is not None]

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
        # Disconnecting ends a blocked read at once (redis-py may retry a cancelled one).
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_SECONDS):
                await self._reader.aclose()
        if self._task is not None:
            await asyncio.wait({self._task}, timeout=CLOSE_SECONDS)
            self._task = None

    async def _last_id(self, tenant_id: str) -> str:
        with cache_unavailable_on_error():
            last = await self._redis.xrevrange(
                stream_key(tenant_id, self._prefix), max="+", min="-", count=1
            )
        return str(last[0][0]) if last else START

    async def _wake(self) -> None:
        """Make the reader's blocked XREAD return, so that it reads the new tenant now."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xadd(self._wake_key, {"w": "1"}, maxlen=1, approximate=False)
                pipe.pexpire(self._wake_key, WAKE_TTL_MS)
                await pipe.execute()
        except RedisError as exc:  # the reader still sees the tenant after its block
            log.debug("inbox feed wake-up not sent: %s", exc)

    async def _read(self) -> None:
        delay = RETRY_FIRST_SECONDS
        while not self._closing:
            if not self._tenants:
                self._changed.clear()
                await self._changed.wait()
                continue
            streams = {
                stream_key(tenant_id, self._prefix): tenant.position
                for tenant_id, tenant in self._tenants.items()
            }
            streams[self._wake_key] = self._wake_position
            try:
                reply = cast(
                    list[tuple[str, Entries]] | None,
                    await self._reader.xread(
                        streams,  # type: ignore[arg-type]  # redis-py's StreamIdT is invariant
                        count=self._batch,
                        block=self._block_ms,
                    ),
                )
            except (RedisError, OSError) as exc:
                if self._closing:  # redis-py turns a cancelled read into a ConnectionError
                    return
                self.reading.clear()
                log.warning("inbox feed lost Redis (%s); reading again", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            self.reading.set()
            delay = RETRY_FIRST_SECONDS
            for key, entries in reply or []:
                self._dispatch(key, entries)

    def _dispatch(self, key: str, entries: Entries) -> None:
        if key == self._wake_key:
            self._wake_position = str(entries[-1][0])
            return
        tenant = self._tenants.get(key.removeprefix(self._prefix))
        if tenant is None:  # its last socket left while the read was under way
            return
        for entry_id, fields in entries:
            if cursor_key(entry_id) <= cursor_key(tenant.position):
                continue  # re-added meanwhile from a later position
            tenant.position = entry_id
            event = _decode(entry_id, fields)
            if event is None:
                continue
            for deliver in list(tenant.listeners):
                try:
                    deliver(event)
                except Exception:
                    log.exception("an inbox listener failed")
