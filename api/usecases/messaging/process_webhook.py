"""Processing one stored webhook delivery, item by item (runs in a job)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from api.common.clock import utcnow
from api.common.hidden_inputs import without_inputs
from api.domain.errors import ServiceUnavailable, TemporaryFailure
from api.domain.messaging.channels import Channel, ChannelStatus
from api.domain.messaging.events import InboundEvent, routes_by_business_account
from api.domain.messaging.gateway import ChannelGateways
from api.domain.messaging.webhook_subjects import event_subjects
from api.domain.messaging.webhooks import (
    ChannelLookup,
    Claim,
    InboundEventHandlers,
    ItemState,
    WebhookEvent,
    WebhookEventStatus,
    WebhookEventStore,
    WebhookItemLedger,
)
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.webhook_rules import WebhookPolicy

log = logging.getLogger(__name__)
TRANSIENT = (TemporaryFailure, ServiceUnavailable, TimeoutError)
HELD = "held"


@dataclass
class ProcessingSummary:
    items: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # state (or "skipped") -> count

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


class ProcessWebhookEvent:
    """Parse a stored delivery with its channel's gateway and settle each item on its own.

    Rules: each item goes to the channel the URL named, or (platform webhook) to the
    connected channel of its account (`metadata.phone_number_id`); a template event,
    which names a business account (the WABA, `entry[].id`) and no number, goes to every
    connected channel of that business account, in every tenant that has one, each
    claimed and settled on its own; an item of an unknown account is ignored. Each item
    runs in its channel's tenant, and only after an atomic claim of (channel, item key):
    a duplicate of a settled item is `skipped`, so each item
    has one effect; one another job holds right now is `held`, and retried later (the
    holder settles it, or, if it crashed, its lease runs out and the retry takes it over).
    A claimed item's handler (by event type) settles it `done`; no handler: `ignored`; a
    handler error: `failed` with the error, and the other items proceed. A transient
    error (`TemporaryFailure`, `ServiceUnavailable`, a timeout) leaves the item to retry.
    A delivery with items to retry or held is retried with backoff (`TemporaryFailure`
    raised after every other item is settled), and after the job's last retry by the
    sweep.

    The delivery records whom its items name (`webhook_subjects`: who wrote, who a status
    is about, in the tenant each item went to), so erasing a person erases the raw
    deliveries that carry their data (`ContactErasure`).
    """

    def __init__(
        self,
        events: WebhookEventStore,
        ledger: WebhookItemLedger,
        lookup: ChannelLookup,
        gateways: ChannelGateways,
        handlers: InboundEventHandlers,
        policy: WebhookPolicy,
    ) -> None:
        self._events = events
        self._ledger = ledger
        self._lookup = lookup
        self._gateways = gateways
        self._handlers = handlers
        self._policy = policy

    async def execute(self, webhook_event_id: str) -> ProcessingSummary:
        summary = ProcessingSummary()
        stored = await self._events.get(webhook_event_id)
        if stored is None or stored.status in (
            WebhookEventStatus.PROCESSED,
            WebhookEventStatus.REJECTED,
        ):
            return summary
        try:
            payload = json.loads(stored.body)
        except (ValueError, UnicodeDecodeError):
            payload = None
        if not isinstance(payload, dict):
            await self._events.set_status(
                webhook_event_id, WebhookEventStatus.REJECTED, error="not a JSON object"
            )
            return summary
        parsed = self._gateways.parse_webhook(stored.channel_type, payload)
        summary.items = len(parsed)
        channels: dict[str, list[Channel]] = {}
        subjects: set[str] = set()
        for event in parsed:
            routed = await self._channels_for(stored, event, channels)
            if not routed:
                summary.count("unrouted")
            for channel in routed:
                subjects |= event_subjects(channel, event)
                summary.count(await self._settle(stored, channel, event))
        pending = summary.outcomes.get(ItemState.RETRY.value, 0) + summary.outcomes.get(HELD, 0)
        status = WebhookEventStatus.RETRYING if pending else WebhookEventStatus.PROCESSED
        await self._events.set_status(
            webhook_event_id, status, items=summary.items, subjects=subjects
        )
        if pending:
            raise TemporaryFailure(f"{pending} webhook item(s) to retry")
        return summary

    async def _channels_for(
        self, stored: WebhookEvent, event: InboundEvent, cache: dict[str, list[Channel]]
    ) -> list[Channel]:
        if stored.channel_id is not None:
            # The URL's channel, whatever the items say: its tenant is the only one written.
            key = f"id:{stored.channel_id}"
            if key not in cache:
                cache[key] = _listed(await self._lookup.by_id(stored.channel_id))
        elif routes_by_business_account(event):
            business = event.account_id or ""
            key = f"business:{business}"
            if key not in cache:
                cache[key] = (
                    await self._lookup.by_business_account(stored.channel_type, business)
                    if business
                    else []
                )
        else:
            account = event.account_id or ""
            key = f"account:{account}"
            if key not in cache:
                cache[key] = _listed(
                    await self._lookup.by_account(stored.channel_type, account) if account else None
                )
        return [
            channel
            for channel in cache[key]
            if channel.status is not ChannelStatus.DISCONNECTED and channel.id
        ]

    async def _settle(self, stored: WebhookEvent, channel: Channel, event: InboundEvent) -> str:
        assert channel.id is not None  # noqa: S101 - a stored channel
        assert stored.id is not None  # noqa: S101 - a stored delivery
        now = utcnow()
        with tenant_context(TenantId(channel.tenant_id) if channel.tenant_id else None):
            claimed = await self._ledger.claim(
                channel_id=channel.id,
                tenant_id=channel.tenant_id,
                key=event.key,
                event_type=event.event,
                webhook_event_id=stored.id,
                now=now,
                lease_until=now + timedelta(seconds=self._policy.item_lease_seconds),
            )
            if claimed is Claim.SETTLED:
                return "skipped"
            if claimed is Claim.HELD:
                return HELD
            state, error = await self._dispatch(channel, event)
            await self._ledger.settle(
                channel_id=channel.id, key=event.key, state=state, error=error, now=utcnow()
            )
        return state.value

    async def _dispatch(
        self, channel: Channel, event: InboundEvent
    ) -> tuple[ItemState, str | None]:
        handler = self._handlers.for_type(event.event)
        if handler is None:
            return ItemState.IGNORED, None
        try:
            await handler.handle(channel, event)
        except TRANSIENT as exc:
            log.warning("webhook item %s of channel %s: transient %s", event.key, channel.id,
                        type(exc).__name__)  # fmt: skip
            return ItemState.RETRY, _describe(exc)
        except Exception as exc:
            log.exception("webhook item %s of channel %s failed", event.key, channel.id)
            return ItemState.FAILED, _describe(exc)
        return ItemState.DONE, None


def _listed(channel: Channel | None) -> list[Channel]:
    return [channel] if channel is not None else []


def _describe(exc: BaseException) -> str:
    """What the ledger keeps of an item's error: its type and message, without the values
    a validation error quotes (a customer's text or number)."""
    return without_inputs(f"{type(exc).__name__}: {exc}")[:500]
