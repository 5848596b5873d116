"""Operations: the health pings of the database and the cache, the job figures of
`/metrics` (outcome counters in the app's Redis, queue depths on the broker), and the
stored secrets an encryption key rotation re-seals."""

from __future__ import annotations

import punq

from api.config import Settings
from api.domain.lifecycle import Closeable
from api.domain.operations.health import CachePing, DatabasePing
from api.domain.operations.metrics import JobOutcomes, QueueDepths
from api.domain.operations.sealed_secrets import SealedSecrets
from api.infrastructure.cache.redis import RedisPing, create_redis
from api.infrastructure.metrics.jobs import RedisJobOutcomes
from api.infrastructure.metrics.queues import NoQueueDepths, RedisQueueDepths
from api.infrastructure.persistence.base.mongo import MongoPing
from api.infrastructure.persistence.operations.sealed_secrets import MongoSealedSecrets
from api.wiring.clients import Clients

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _queue_names(clients: Clients) -> list[str]:
    conf = clients.celery.conf
    names = [str(conf.task_default_queue)]
    names += [str(queue.name) for queue in conf.task_queues or ()]
    return list(dict.fromkeys(names))


def _register_queue_depths(container: punq.Container, settings: Settings, clients: Clients) -> None:
    """Read the broker's Redis: the app's pool when it is the same URL, else a small pool
    of its own (closed with the process); no depths on other brokers."""
    broker = settings.broker_url
    queues = _queue_names(clients)
    if broker == settings.redis.resolved_url:
        container.register(
            QueueDepths, instance=RedisQueueDepths(clients.redis, queues, owned=False)
        )
    elif broker.startswith(_REDIS_SCHEMES):
        timeout = settings.redis.socket_timeout_seconds
        own = create_redis(broker, socket_timeout=timeout, max_connections=4)
        depths = RedisQueueDepths(own, queues, owned=True)
        container.register(QueueDepths, instance=depths)
        container.register(Closeable, instance=depths)
    else:
        container.register(QueueDepths, instance=NoQueueDepths())


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    container.register(DatabasePing, instance=MongoPing(clients.mongo))
    container.register(CachePing, instance=RedisPing(clients.redis))
    container.register(JobOutcomes, instance=RedisJobOutcomes(clients.redis))
    container.register(SealedSecrets, instance=MongoSealedSecrets())
    _register_queue_depths(container, settings, clients)
