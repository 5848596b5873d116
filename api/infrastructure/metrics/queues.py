"""`QueueDepths` adapters: the length of the Celery queues on the broker.

On a Redis broker a queue is a list named after it (plus one list per priority step,
`<queue>\\x06\\x16<step>`, used by messages sent with a priority): its depth is the sum of
their lengths, read in one round trip. Other brokers report no depths.
"""

from __future__ import annotations

from collections.abc import Sequence

from kombu.transport.redis import PRIORITY_STEPS, Channel
from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.domain.errors import ServiceUnavailable


def priority_lists(queue: str) -> list[str]:
    """The Redis lists kombu keeps for `queue`: the queue itself and one per priority."""
    return [queue] + [f"{queue}{Channel.sep}{step}" for step in PRIORITY_STEPS if step]


class RedisQueueDepths:
    """Depths read from the broker's Redis; closes the client when it owns it."""

    def __init__(self, redis: Redis, queues: Sequence[str], *, owned: bool) -> None:
        self._redis = redis
        self._queues = list(queues)
        self._owned = owned

    async def depths(self) -> dict[str, int]:
        lists = {queue: priority_lists(queue) for queue in self._queues}
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for names in lists.values():
                    for name in names:
                        pipe.llen(name)
                lengths = iter(await pipe.execute())
        except RedisError as exc:
            raise ServiceUnavailable("job queue") from exc
        return {queue: sum(int(next(lengths)) for _ in names) for queue, names in lists.items()}

    async def close(self) -> None:
        if self._owned:
            await self._redis.aclose()


class NoQueueDepths:
    """A broker other than Redis: no depths to report."""

    async def depths(self) -> dict[str, int]:
        return {}
