"""The composition root: `build_container` registers the process's settings and clients,
then each context's adapters and policies, then the use cases (found by discovery).

Only `api.wiring` names concrete adapters. Adapters with a lifecycle are registered
under the ports of `api.domain.lifecycle` (`Startable`, `Closeable`, `Listener`), so the
processes start and close them without naming them. Tests call `build_container` with
clients of their own.
"""

from __future__ import annotations

import punq
from celery import Celery
from redis.asyncio import Redis

from api.config import Settings
from api.infrastructure.persistence.base.mongo import MongoClient
from api.wiring import (
    ai,
    analytics,
    assistants,
    campaign_sending,
    crm,
    crm_callbacks,
    crm_departments,
    crm_leads,
    crm_meetings,
    crm_tickets,
    crm_transcripts,
    email,
    files,
    identity,
    kernel,
    knowledge,
    messaging,
    operations,
    plans,
    tenants,
)
from api.wiring.clients import Clients
from api.wiring.discovery import register_use_cases

CONTEXTS = (
    kernel, tenants, plans, identity, email, files, ai, knowledge, messaging, campaign_sending,
    assistants, operations, analytics, crm,
    crm_callbacks, crm_meetings, crm_leads,
    crm_tickets,
    crm_transcripts,
    crm_departments,
)  # fmt: skip


def build_container(
    settings: Settings, *, mongo: MongoClient, redis: Redis, celery: Celery
) -> punq.Container:
    """A container for one process: its adapters, policies and use cases."""
    container = punq.Container()
    container.register(Settings, instance=settings)
    container.register(Redis, instance=redis)
    clients = Clients(mongo=mongo, redis=redis, celery=celery)
    for context in CONTEXTS:
        context.register(container, settings, clients)
    assistants.register_brain(container)  # before discovery: the use cases taking it
    register_use_cases(container)  # after the explicit registrations, which take precedence
    messaging.add_inbound_handlers(container)  # handlers are use cases: after discovery
    return container
