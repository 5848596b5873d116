"""Messaging webhooks: raw deliveries, item claims, the cross-tenant channel lookup, the
handlers of inbound events (a context adds its own to `InboundEventHandlers`)."""

from __future__ import annotations

import punq

from api.config import Settings
from api.domain.clock import Clock
from api.domain.lifecycle import Startable
from api.domain.messaging.webhooks import (
    ChannelLookup,
    InboundEventHandlers,
    WebhookEventStore,
    WebhookItemLedger,
)
from api.infrastructure.cache.channel_lookup import CachedChannelLookup
from api.infrastructure.persistence.messaging.channel_lookup import PlatformChannelLookup
from api.infrastructure.persistence.messaging.webhooks import (
    MongoWebhookEventStore,
    MongoWebhookItemLedger,
    ensure_webhook_retention,
)
from api.usecases.messaging.webhook_rules import WebhookPolicy
from api.wiring.kernel import OnStart


def webhook_policy(settings: Settings) -> WebhookPolicy:
    whatsapp = settings.whatsapp
    return WebhookPolicy(
        platform_app_secret=(
            whatsapp.app_secret.get_secret_value() if whatsapp.app_secret else None
        ),
        platform_verify_token=(
            whatsapp.verify_token.get_secret_value() if whatsapp.verify_token else None
        ),
        # A holder still running is never taken over: the lease outlasts a job's time limit.
        item_lease_seconds=max(
            settings.webhook_item_lease_seconds, settings.jobs.job_time_limit_seconds + 30
        ),
        sweep_after_seconds=settings.webhook_sweep_after_seconds,
    )


def register_webhooks(container: punq.Container, settings: Settings) -> None:
    container.register(WebhookPolicy, instance=webhook_policy(settings))
    lookup = CachedChannelLookup(
        PlatformChannelLookup(),
        container.resolve(Clock),
        settings.webhook_channel_cache_seconds,
    )
    container.register(ChannelLookup, instance=lookup)
    # One instance per process: it groups concurrent inserts.
    container.register(WebhookEventStore, instance=MongoWebhookEventStore())
    container.register(WebhookItemLedger, MongoWebhookItemLedger)
    container.register(InboundEventHandlers, instance=InboundEventHandlers())
    days = settings.webhook_retention_days
    container.register(Startable, instance=OnStart(lambda: ensure_webhook_retention(days)))
