"""Webhook deliveries and the processing of their items, provider-neutral.

A delivery is stored raw (`WebhookEvent`) before it is acknowledged, then a job parses
it into `InboundEvent`s and processes each on its own. Every item is claimed atomically
in the `WebhookItemLedger` under a key unique per channel (`event.key`), so the same item
delivered again (Meta retries for days, sometimes concurrently) has one effect: a done,
ignored or failed item is never processed again; an item whose processing crashed (its
lease ran out) or failed transiently may be claimed again.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from api.domain.messaging.channels import Channel, ChannelType
from api.domain.messaging.events import InboundEvent


class WebhookEventStatus(StrEnum):
    RECEIVED = "received"  # stored; its job may not be queued yet (the sweep re-queues it)
    QUEUED = "queued"  # its job is queued
    PROCESSED = "processed"  # every item was settled (done, ignored or failed for good)
    RETRYING = "retrying"  # some items failed transiently; the job retries them
    REJECTED = "rejected"  # the body is not a delivery (no JSON): nothing to process


class WebhookEvent(BaseModel):
    """One delivery exactly as received: the raw body (what the signature covers)."""

    model_config = ConfigDict(frozen=True)

    id: str | None = None
    channel_type: ChannelType
    channel_id: str | None  # None: the platform's own webhook (items routed by account)
    tenant_id: str | None  # the channel's tenant when the delivery names one channel
    received_at: datetime
    body: bytes
    signature_verified: bool
    status: WebhookEventStatus = WebhookEventStatus.RECEIVED
    items: int = 0  # how many items the delivery held, once parsed
    error: str | None = None
    erased_at: datetime | None = None  # its body was erased with a person it named


class WebhookEventStore(Protocol):
    """Raw deliveries (platform-level: one delivery of the platform's app may concern
    several tenants; each names its channel and tenant when it is known)."""

    async def add(self, event: WebhookEvent) -> WebhookEvent: ...

    async def get(self, event_id: str) -> WebhookEvent | None: ...

    async def set_status(
        self,
        event_id: str,
        status: WebhookEventStatus,
        *,
        items: int = 0,
        error: str | None = None,
        subjects: Collection[str] = (),
    ) -> None:
        """Record how processing ended, with the keys of the people its items name
        (`webhook_subjects`). A delivery set PROCESSED whose erasure waited for it, or
        naming a person erased while it was in flight (see `erase_subjects`), has its
        body erased at once."""
        ...

    async def erase_subjects(self, subjects: Collection[str], at: datetime) -> int:
        """Erase the body of every delivery naming any of these people: a processed one at
        once (`erased_at`; its items are never read again), one still to be processed (its
        other items may still need it) as soon as its processing ends, and one in flight
        (received or queued: whom it names is not recorded yet) when its processing ends,
        if it names them. How many were known to name them."""
        ...

    async def mark_queued(self, event_id: str) -> None:
        """RECEIVED → QUEUED (never moves a processed delivery back)."""
        ...

    async def stale(self, *, received_before: datetime, limit: int) -> list[str]:
        """Ids of deliveries still RECEIVED (their job was never queued) or QUEUED/RETRYING
        (their job was lost) since before `received_before`, oldest first."""
        ...


class ItemState(StrEnum):
    PROCESSING = "processing"  # claimed; a lease guards it (a crash lets it go)
    DONE = "done"  # handled: its effect happened once
    IGNORED = "ignored"  # nothing handles this kind of event (or its account is unknown)
    FAILED = "failed"  # the handler refused it for good; kept with its error
    RETRY = "retry"  # the handler failed transiently; may be claimed again


SETTLED = frozenset({ItemState.DONE, ItemState.IGNORED, ItemState.FAILED})


class Claim(StrEnum):
    """What a claim got."""

    TAKEN = "taken"  # this caller processes the item
    SETTLED = "settled"  # done, ignored or failed for good: never processed again
    HELD = "held"  # another caller holds it (its lease runs): try again later


class WebhookItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    channel_id: str
    tenant_id: str | None
    key: str
    event_type: str
    webhook_event_id: str
    state: ItemState
    attempts: int
    error: str | None = None
    updated_at: datetime


class WebhookItemLedger(Protocol):
    """One record per (channel, item key), unique: the atomic claim behind exactly-once."""

    async def claim(
        self,
        *,
        channel_id: str,
        tenant_id: str | None,
        key: str,
        event_type: str,
        webhook_event_id: str,
        now: datetime,
        lease_until: datetime,
    ) -> Claim:
        """Take the item: `TAKEN` when this caller may process it (new, a RETRY, or a
        PROCESSING whose lease ran out); `SETTLED` or `HELD` otherwise."""
        ...

    async def settle(
        self, *, channel_id: str, key: str, state: ItemState, error: str | None, now: datetime
    ) -> None:
        """Record the outcome of a claimed item."""
        ...

    async def get(self, channel_id: str, key: str) -> WebhookItem | None: ...


class ChannelLookup(Protocol):
    """THE one cross-tenant read of channels, for the public webhooks only: their tenant
    comes from the channel they name, so the channel is found before any tenant is."""

    async def by_id(self, channel_id: str) -> Channel | None:
        """The channel with this id in any tenant (None when malformed or unknown)."""
        ...

    async def by_account(self, type: ChannelType, account_id: str) -> Channel | None:
        """The channel, in any tenant and not disconnected, of this provider account."""
        ...

    async def by_business_account(
        self, type: ChannelType, business_account_id: str
    ) -> list[Channel]:
        """Every channel, in any tenant and not disconnected, of this business account
        (WhatsApp's WABA), oldest first."""
        ...


class InboundEventHandler(Protocol):
    """Gives effect to one kind of inbound event (messages, statuses...). Runs in the
    channel's tenant; raises `TemporaryFailure` (or `ServiceUnavailable`) to be retried
    with backoff, anything else fails the item for good. It is called once per item key
    (the claim ensures it), except after a crash mid-way: make the effect idempotent by
    the event's `key`/`external_id` where a repeat would show."""

    event_types: frozenset[str]  # the `event` values it handles, e.g. {"message_received"}

    async def handle(self, channel: Channel, event: InboundEvent) -> None: ...


class InboundEventHandlers:
    """The handler of each event type (a context registers its handlers at wiring); an
    event type nobody handles is recorded as ignored."""

    def __init__(self) -> None:
        self._by_type: dict[str, InboundEventHandler] = {}

    def add(self, handler: InboundEventHandler) -> None:
        for event_type in handler.event_types:
            self._by_type[event_type] = handler

    def for_type(self, event_type: str) -> InboundEventHandler | None:
        return self._by_type.get(event_type)
