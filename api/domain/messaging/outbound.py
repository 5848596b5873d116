"""Sending: what a feature asks to send (`OutboundDraft`), the refusals it may get, and the
ports the sending path needs (idempotency keys, the per-number rate bucket, the files
of the files feature).

A draft names its conversation, or a channel and a recipient (`to`: an E.164 phone number
or the provider's user id), and its content in Parley's terms: a file by Parley's
`file_id` or a public `link`, a reaction to a Parley message id. The job that sends it
turns the stored message into the provider-neutral `OutboundMessage`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.domain.errors import Conflict, InvalidInput
from api.domain.messaging.channels import Channel
from api.domain.messaging.content import (
    InteractiveContent,
    LocationContent,
    MediaKind,
    TemplateContent,
    TextContent,
)
from api.domain.messaging.messages import MediaLink

_FROZEN = ConfigDict(frozen=True)

INTERACTIVE_TYPES = frozenset({
    "button", "list", "cta_url", "product", "product_list", "catalog_message", "flow",
    "location_request_message", "address_message", "call_permission_request", "voice_call",
})  # fmt: skip
_INTERACTIVE_NEEDS_BODY = frozenset({"button", "list", "cta_url", "product_list", "flow"})


class MediaDraft(BaseModel):
    """A file to send: one of the tenant's stored files (`file_id`) or a public `link`."""

    model_config = _FROZEN
    kind: Literal["media"] = "media"
    media_kind: MediaKind
    file_id: str | None = Field(default=None, min_length=1, max_length=64)
    link: str | None = Field(default=None, min_length=8, max_length=2048)
    caption: str | None = Field(default=None, max_length=1024)
    filename: str | None = Field(default=None, max_length=255)

    @model_validator(mode="after")
    def _one_source(self) -> MediaDraft:
        if (self.file_id is None) == (self.link is None):
            raise ValueError("give exactly one of file_id or link")
        if self.link is not None and not self.link.startswith(("https://", "http://")):
            raise ValueError("link must be an http(s) URL")
        return self


class ReactionDraft(BaseModel):
    """An emoji on a message of the same conversation, by Parley's id; "" removes it."""

    model_config = _FROZEN
    kind: Literal["reaction"] = "reaction"
    message_id: str = Field(min_length=1, max_length=64)
    emoji: str = Field(max_length=16)


class CheckedInteractive(InteractiveContent):
    """Meta's `interactive` object, checked minimally: a known `type`, an `action` object
    (except for the types that have none), and a `body.text` where Meta requires one."""

    @model_validator(mode="after")
    def _shape(self) -> CheckedInteractive:
        kind = self.interactive.get("type")
        if kind not in INTERACTIVE_TYPES:
            raise ValueError(
                f"interactive.type must be one of {', '.join(sorted(INTERACTIVE_TYPES))}"
            )
        if not isinstance(self.interactive.get("action"), dict):
            raise ValueError("interactive.action must be an object")
        body = self.interactive.get("body")
        if kind in _INTERACTIVE_NEEDS_BODY and not (
            isinstance(body, dict) and isinstance(body.get("text"), str) and body["text"]
        ):
            raise ValueError(f"interactive.body.text is required for type {kind}")
        return self


DraftContent = Annotated[
    TextContent
    | TemplateContent
    | MediaDraft
    | LocationContent
    | CheckedInteractive
    | ReactionDraft,
    Field(discriminator="kind"),
]


class OutboundDraft(BaseModel):
    """A message to queue: by `conversation_id`, or by `channel_id` + `to`."""

    model_config = _FROZEN
    conversation_id: str | None = Field(default=None, min_length=1, max_length=64)
    channel_id: str | None = Field(default=None, min_length=1, max_length=64)
    to: str | None = Field(default=None, min_length=3, max_length=64)
    content: DraftContent
    reply_to: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one_target(self) -> OutboundDraft:
        by_conversation = self.conversation_id is not None
        by_channel = self.channel_id is not None or self.to is not None
        if by_conversation == by_channel:
            raise ValueError("give conversation_id, or channel_id and to")
        if by_channel and (self.channel_id is None or self.to is None):
            raise ValueError("channel_id and to go together")
        return self

    @property
    def type(self) -> str:
        """The message type as stored and shown (`image`... for media)."""
        if isinstance(self.content, MediaDraft):
            return self.content.media_kind.value
        return self.content.kind


def draft_text(content: Any) -> str | None:
    """The text a message of this content shows in the inbox (body or caption)."""
    if isinstance(content, TextContent):
        return content.body
    if isinstance(content, MediaDraft):
        return content.caption
    return None


# --- refusals (422 / 409 with their own codes) ---------------------------------------


class OutsideServiceWindow(InvalidInput):
    """A free-form message after the 24-hour customer service window (or before the
    customer ever wrote): only templates may open a conversation."""

    code = "outside_customer_service_window"
    title = "Outside the customer service window"


class IdempotencyKeyReused(InvalidInput):
    """The `Idempotency-Key` was used with another request body."""

    code = "idempotency_key_reused"
    title = "Idempotency key reused"


class IdempotencyKeyInProgress(Conflict):
    """A request with this `Idempotency-Key` is still being processed; retry shortly."""

    code = "idempotency_key_in_progress"
    title = "Idempotency key in progress"


class InvalidRecipient(InvalidInput):
    """`to` is neither an E.164 phone number nor a provider user id."""

    code = "invalid_recipient"
    title = "Invalid recipient"


class ChannelUnavailable(Conflict):
    """The channel cannot send: disconnected, or its token stopped working."""

    code = "channel_unavailable"
    title = "Channel unavailable"


class TargetNotSent(InvalidInput):
    """A reply or reaction names a message the provider does not know (not sent yet)."""

    code = "target_not_sent"
    title = "Target message not sent"


# --- ports -----------------------------------------------------------------------------


class IdempotencyRecord(BaseModel):
    model_config = _FROZEN
    key: str
    fingerprint: str
    message_id: str
    created_at: datetime


class IdempotencyKeys(Protocol):
    """Idempotency keys of the current tenant, kept a bounded time (then forgotten)."""

    async def find(self, key: str) -> IdempotencyRecord | None:
        """The live record of `key` (None when unknown or expired)."""
        ...

    async def claim(self, record: IdempotencyRecord) -> IdempotencyRecord:
        """Store the record unless `key` has a live one; the record that holds the key
        (this one when it won). Atomic: of concurrent claims, one wins."""
        ...

    async def release(self, key: str, message_id: str) -> None:
        """Forget the key if it still points at `message_id` (the request failed)."""
        ...


class RateLimit(BaseModel):
    """One token bucket: its name, its refill `rate` per second and its `capacity` (the
    most it holds: the burst it allows)."""

    model_config = _FROZEN
    bucket: str = Field(min_length=1)
    rate: float = Field(gt=0)
    capacity: int = Field(ge=1)


def number_bucket(channel_type: str, account_id: str) -> str:
    """The bucket of one provider number: shared by every send from it (inbox, campaigns)."""
    return f"{channel_type}:{account_id}"


def chat_bucket(channel_type: str, account_id: str, chat: str) -> str:
    """The bucket of one chat of an account, where the provider limits each chat
    (Telegram): shared by the inbox's sends and the campaigns'."""
    return number_bucket(channel_type, f"{account_id}:{chat}")


@dataclass(frozen=True)
class Slot:
    """One of `key`'s `limit` provider slots (`ProviderSlots`) for `holder`, held for
    `hold_seconds` at most."""

    key: str
    holder: str
    limit: int
    hold_seconds: float


class SendRateLimiter(Protocol):
    """A token bucket per provider account, shared by every worker process."""

    async def take(self, bucket: str, *, rate: float, capacity: int) -> float:
        """Take one token: 0.0 when taken, else the seconds until one is available (none
        is taken then). Refills at `rate` per second up to `capacity`."""
        ...

    async def take_in_slot(
        self, bucket: str, *, rate: float, capacity: int, slot: Slot
    ) -> float | None:
        """`slot` first (`ProviderSlots.acquire`'s rules, the same slots): None when its
        `limit` holders have one, and then no token is taken; else the slot is held and
        `take`'s answer is given (the slot stays held whatever it is)."""
        ...

    async def hold(self, bucket: str, *, seconds: float, rate: float, capacity: int) -> None:
        """No token for the next `seconds` (the provider said to wait: its `retry_after`),
        whatever the bucket held; then it refills as usual."""
        ...

    async def take_up_to(self, limits: list[RateLimit], count: int) -> tuple[int, float]:
        """Take up to `count` tokens at once from every bucket of `limits` (as many as the
        emptiest of them holds, from each): `(taken, wait)`, `wait` being 0.0 when all
        `count` were taken, else the seconds until every bucket holds a token again."""
        ...


class SendingChannels(Protocol):
    """The channel a send job sends through: a worker process may keep an active one in
    memory for a few seconds (a send that finds the kept one stale reads it again)."""

    async def get(self, channel_id: str) -> Channel | None:
        """The current tenant's channel: as kept when it was active a moment ago, else
        as stored now."""
        ...

    async def fresh(self, channel_id: str) -> Channel | None:
        """The current tenant's channel as stored now (and kept so, when active)."""
        ...

    def forget(self, channel_id: str) -> None:
        """Keep the current tenant's channel no longer (it changed: read it next time)."""
        ...


class OutboundFiles(Protocol):
    """The tenant's stored files (the files feature), as the sending path needs them."""

    async def describe(self, file_id: str) -> MediaLink | None:
        """The current tenant's file (None when absent or another tenant's)."""
        ...

    async def public_link(self, file_id: str) -> str:
        """A URL the provider can fetch the file from (signed, time-limited)."""
        ...

    async def read(self, file_id: str, *, max_bytes: int) -> bytes:
        """The file's bytes, for providers that take uploads (Telegram); `NotFound` when
        it is gone, `PayloadTooLarge` past `max_bytes`."""
        ...


class StaleOutbound(Protocol):
    """Outbound messages whose send job seems lost, across tenants (the sweeper's view)."""

    async def queued_before(
        self, before: datetime, *, now: datetime, limit: int
    ) -> list[tuple[str, str]]:
        """(tenant id, message id) of outbound messages still `queued` that were created
        before `before` and that no send run holds at `now`, oldest first."""
        ...

    async def count_requeue(self, tenant_id: str, message_id: str) -> int:
        """Count one more re-queue of the message; how many it has had now."""
        ...
