"""The channel port: what Parley asks of a messaging provider, and the registry that
gives the gateway for a channel.

Every call raises only the provider-neutral errors of `api.domain.messaging.errors`
(`ChannelRateLimited`, `ChannelTransientFailure`, `ChannelTokenInvalid`,
`ChannelPermanentFailure`), so use cases and jobs never learn the provider's codes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from api.domain.messaging.channels import Channel, ChannelProfile, ChannelType
from api.domain.messaging.content import OutboundMessage, SendResult
from api.domain.messaging.events import InboundEvent


class MediaDownload(BaseModel):
    """A provider file being downloaded: its metadata and its bytes in chunks (read them
    inside the `open_media` context; the connection closes when it ends)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    media_id: str
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    chunks: AsyncIterator[bytes]


class ProviderTemplate(BaseModel):
    """A message template as the provider lists it."""

    model_config = ConfigDict(frozen=True)

    external_id: str
    name: str
    language: str
    status: str
    category: str | None = None
    components: list[dict[str, Any]] = Field(default_factory=list)
    quality: str | None = None
    rejected_reason: str | None = None
    parameter_format: str | None = None  # POSITIONAL | NAMED


class TemplateDraft(BaseModel):
    """A template to submit for approval."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    language: str = Field(min_length=2, max_length=15)
    category: str  # MARKETING | UTILITY | AUTHENTICATION
    components: list[dict[str, Any]]
    parameter_format: str | None = None  # NAMED when its placeholders are named


class TemplateSubmitted(BaseModel):
    model_config = ConfigDict(frozen=True)

    external_id: str
    status: str
    category: str | None = None


class ChannelGateway(Protocol):
    """One channel's provider account, through its own client."""

    async def check(self) -> ChannelProfile:
        """Prove the credentials with the provider and read the account's profile."""
        ...

    async def send(self, message: OutboundMessage) -> SendResult: ...

    async def mark_read(
        self, external_id: str, *, user_id: str | None = None, typing: bool = False
    ) -> None:
        """Mark an inbound message read (the customer sees blue ticks, or "Seen"); `typing`
        also shows the typing indicator until the reply (or about 20-25 s). `user_id` is
        the customer's id on the provider, for providers that mark a conversation rather
        than a message (Meta's Messenger Platform); where it is needed and missing,
        nothing is marked."""
        ...

    async def answer_press(self, press_id: str) -> None:
        """Tell the provider a button press was handled (Telegram's `answerCallbackQuery`:
        the customer's button stops showing progress); nothing where presses need no
        answer (Meta's)."""
        ...

    async def register_webhook(self, url: str, secret_token: str) -> None:
        """Point the provider's webhook at `url`, signed with `secret_token` (Telegram's
        `setWebhook`). Providers whose webhook the tenant sets up in their own dashboard
        (Meta's) do nothing."""
        ...

    async def unregister_webhook(self) -> None:
        """Remove the webhook (Telegram's `deleteWebhook`); nothing for Meta's."""
        ...

    def open_media(self, media_id: str) -> AbstractAsyncContextManager[MediaDownload]:
        """Download an inbound file, streamed (`async with gateway.open_media(id) as m`)."""
        ...

    async def list_templates(self) -> list[ProviderTemplate]:
        """Every template of the business account (all pages); `TemplatesNotSupported`
        (as the other template calls) where the provider has none."""
        ...

    async def create_template(self, draft: TemplateDraft) -> TemplateSubmitted: ...

    async def delete_template(self, name: str, external_id: str | None) -> None:
        """Delete a template at the provider: the one language with this id, or (no id)
        every language of the name."""
        ...


class ChannelGateways(Protocol):
    """Gives the gateway for a channel (one client per channel token, reused; a rotated
    token gets a new client and the old one is closed), and parses webhooks."""

    def for_channel(self, channel: Channel) -> ChannelGateway: ...

    async def check(self, channel: Channel) -> ChannelProfile:
        """Check a channel's credentials, also one not stored yet (no client is kept)."""
        ...

    def forget(self, channel_id: str) -> None:
        """Drop (and close, in the background) the channel's client, e.g. on disconnect."""
        ...

    def parse_webhook(self, type: ChannelType, payload: dict[str, Any]) -> list[InboundEvent]:
        """One delivery of the provider's webhook (its JSON body) as typed events, one per
        item; an item that cannot be read becomes `Unrecognized`, never an exception."""
        ...
