"""`StopSignals` on Redis pub/sub: a stop request reaches the replica running the stream.

Every API process subscribes once to `parley:ai:stop` (a background task that
resubscribes after a Redis outage) and keeps the generations it runs in a dict by key
(`{tenant_id}:{conversation_id}`). A stop request calls this process's watchers directly
and publishes the key for the other replicas; a watcher called twice is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.infrastructure.cache.redis import cache_unavailable_on_error

log = logging.getLogger(__name__)

CHANNEL = "parley:ai:stop"
RESUBSCRIBE_SECONDS = 1.0
CLOSE_SECONDS = 1.0
CANCEL_AGAIN_SECONDS = 0.05


class RedisStopSignals:
    def __init__(self, redis: Redis, *, channel: str = CHANNEL) -> None:
        self._redis = redis
        self._channel = channel  # every replica of one deployment uses the same
        self._watchers: dict[str, set[Callable[[], None]]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._closing = False
        self.subscribed = asyncio.Event()

    def start(self) -> None:
        """Subscribe (in the background); called by the API at start-up and by `watch`."""
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(
                self._listen(), name="ai-stop-listener"
            )

    def watch(self, key: str, on_stop: Callable[[], None]) -> Callable[[], None]:
        self.start()
        self._watchers.setdefault(key, set()).add(on_stop)

        def release() -> None:
            watchers = self._watchers.get(key)
            if watchers is not None:
                watchers.discard(on_stop)
                if not watchers:
                    del self._watchers[key]

        return release

    async def request(self, key: str) -> None:
        self._dispatch(key)
        with cache_unavailable_on_error():
            await self._redis.publish(self._channel, key)

    def _dispatch(self, key: str) -> None:
        for on_stop in list(self._watchers.get(key, ())):
            on_stop()

    async def _listen(self) -> None:
        while not self._closing:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self.subscribed.set()
                while not self._closing:
                    message = await pubsub.get_message(timeout=RESUBSCRIBE_SECONDS)
                    if message is not None and message.get("type") == "message":
                        data = message["data"]
                        self._dispatch(data.decode() if isinstance(data, bytes) else str(data))
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                if self._closing:  # redis-py turns a cancelled read into a ConnectionError
                    return
                log.warning("AI stop channel lost (%s); subscribing again", type(exc).__name__)
                await asyncio.sleep(RESUBSCRIBE_SECONDS)
            finally:
                self.subscribed.clear()
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(CLOSE_SECONDS):  # never hold a shutdown
                        # redis-py leaves `PubSub.aclose` unannotated (its aliases are typed).
                        await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        self._closing = True
        listener, self._listener = self._listener, None
        if listener is None:
            return
        # Bounded: a connection cancelled mid-read can make the unsubscribe hang. Cancelled
        # again until it ends: redis-py swallows a cancellation that lands while it connects
        # (closing right after start-up then waited out the whole bound, and the listener
        # lived on, subscribed).
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLOSE_SECONDS * 2
        listener.cancel()
        while not listener.done() and loop.time() < deadline:
            await asyncio.wait({listener}, timeout=CANCEL_AGAIN_SECONDS)
            if self.subscribed.is_set() and not listener.done():  # reading: not cleaning up
                listener.cancel()
