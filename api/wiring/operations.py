"""Operations: the health pings of the database and the cache."""

from __future__ import annotations

import punq

from api.config import Settings
from api.domain.operations.health import CachePing, DatabasePing
from api.infrastructure.cache.redis import RedisPing
from api.infrastructure.persistence.base.mongo import MongoPing
from api.wiring.clients import Clients


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    container.register(DatabasePing, instance=MongoPing(clients.mongo))
    container.register(CachePing, instance=RedisPing(clients.redis))
