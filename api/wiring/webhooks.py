"""Messaging webhooks: raw deliveries, item claims, the cross-tenant channel lookup, the
handlers of inbound events (a context adds its own to `InboundEventHandlers`)."""

from __future__ import annotations

import punq
from pydantic import SecretStr

from api.config import Settings
from api.domain.clock import Clock
from api.domain.lifecycle import Startable
from api.domain.messaging.channels import ChannelType
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
from api.usecases.messaging.webhook_rules import PlatformApp, WebhookPolicy
from api.wiring.kernel import OnStart


def webhook_policy(settings: Settings) -> WebhookPolicy:
    whatsapp = PlatformApp(
        app_secret=_revealed(settings.whatsapp.app_secret),
        verify_token=_revealed(settings.whatsapp.verify_token),
    )
    meta = PlatformApp(
        app_secret=_revealed(settings.meta.app_secret),
        verify_token=_revealed(settings.meta.verify_token),
    )
    return WebhookPolicy(
        platform_apps={
            ChannelType.WHATSAPP: whatsapp,
            ChannelType.MESSENGER: meta,
            ChannelType.INSTAGRAM: meta,
        },
        # A holder still running is never taken over: the lease outlasts a job's time limit.
        item_lease_seconds=max(
            settings.webhook_item_lease_seconds, settings.jobs.job_time_limit_seconds + 30
        ),
        sweep_after_seconds=settings.webhook_sweep_after_seconds,
    )


def _revealed(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret else None


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
