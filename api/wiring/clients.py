"""The long-lived clients a process opens (see `runtime.running`) and the wiring shares."""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery
from redis.asyncio import Redis

from api.infrastructure.persistence.base.mongo import MongoClient


@dataclass(frozen=True)
class Clients:
    """One Mongo client, one Redis pool and one Celery app per process."""

    mongo: MongoClient
    redis: Redis
    celery: Celery
