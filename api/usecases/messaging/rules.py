"""The channels' shared rules: the deployment's defaults, how a channel is shown (never a
secret), the webhook URL a tenant pastes into Meta's dashboard, and the check with the
provider whose refusal becomes a 422 without any secret in it."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from api.domain.errors import Conflict, NotFound
from api.domain.identity.auth import SecretBox
from api.domain.messaging.channels import (
    Channel,
    ChannelProfile,
    ChannelRepository,
    ChannelStatus,
    ChannelType,
    SecretName,
)
from api.domain.messaging.errors import (
    ApiBaseUrlNotAllowed,
    ChannelCheckFailed,
    ChannelPermanentFailure,
    ChannelTokenInvalid,
    ChannelTransientFailure,
    GraphBaseUrlNotAllowed,
)
from api.domain.messaging.gateway import ChannelGateways
from api.domain.plans import LimitName
from api.usecases.kernel.clock import stored_now
from api.usecases.kernel.plan_gate import PlanGate

log = logging.getLogger(__name__)

CHANNEL_NOT_FOUND = "Channel not found."
ALREADY_CONNECTED = "This account is already connected to a channel."
PUBLIC_FIELDS = (
    "name", "status", "verify_token", "messages_per_second", "phone_number_id", "waba_id",
    "api_version", "graph_base_url",
)  # fmt: skip


@dataclass(frozen=True)
class ChannelPolicy:
    """The deployment's channel settings."""

    webhook_base_url: str  # {PUBLIC_BASE_URL}{api prefix}/webhooks
    graph_base_url: str
    api_version: str
    messages_per_second: int
    # The Graph bases a channel may name (the default among them); None: any.
    allowed_graph_base_urls: frozenset[str] | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    # The Bot API bases a Telegram channel may name (the default among them); None: any.
    allowed_telegram_api_base_urls: frozenset[str] | None = None
    telegram_messages_per_second: int = 30

    def graph_base_url_for(self, requested: str | None) -> str:
        """The channel's Graph base: the default when none is asked for; one the
        deployment does not allow is `GraphBaseUrlNotAllowed` (Parley would send the
        channel's token there)."""
        return _allowed_base(
            requested, self.graph_base_url, self.allowed_graph_base_urls,
            "graph_base_url", GraphBaseUrlNotAllowed,
        )  # fmt: skip

    def telegram_api_base_url_for(self, requested: str | None) -> str:
        """A Telegram channel's Bot API base, by the same rule (`ApiBaseUrlNotAllowed`)."""
        return _allowed_base(
            requested, self.telegram_api_base_url, self.allowed_telegram_api_base_urls,
            "api_base_url", ApiBaseUrlNotAllowed,
        )  # fmt: skip


def _allowed_base(
    requested: str | None,
    default: str,
    allowed: frozenset[str] | None,
    field: str,
    error: type[GraphBaseUrlNotAllowed],
) -> str:
    url = (requested or default).rstrip("/")
    if allowed is not None and url not in allowed:
        raise error(
            f"This deployment does not allow that {field}; allowed: " + ", ".join(sorted(allowed))
        )
    return url


class ChannelView(BaseModel):
    """A channel as clients see it: settings, profile, webhook URL; secrets only as flags.
    Each provider's settings fill their own fields (the others are None): WhatsApp's
    number, Telegram's bot, Messenger's page, Instagram's account."""

    id: str
    type: ChannelType
    name: str
    status: ChannelStatus
    account_id: str
    phone_number_id: str | None = None
    waba_id: str | None = None
    display_phone_number: str | None = None
    verified_name: str | None = None
    quality_rating: str | None = None
    api_version: str | None = None
    graph_base_url: str | None = None
    bot_id: str | None = None
    bot_username: str | None = None
    api_base_url: str | None = None
    page_id: str | None = None
    page_name: str | None = None
    instagram_account_id: str | None = None
    username: str | None = None
    human_agent_tag: bool | None = None
    webhook_url: str
    verify_token: str
    has_access_token: bool  # the channel's credential (access, bot or page token)
    has_app_secret: bool
    messages_per_second: int
    created_at: datetime
    updated_at: datetime


def channel_view(channel: Channel, policy: ChannelPolicy) -> ChannelView:
    channel_id = channel.id or ""
    return ChannelView(
        **channel.settings.model_dump(exclude={"type"}),
        id=channel_id,
        type=channel.type,
        name=channel.name,
        status=channel.status,
        account_id=channel.account_id,
        webhook_url=webhook_url(channel, policy),
        verify_token=channel.verify_token,
        has_access_token=channel.secrets.has(channel.credential_secret),
        has_app_secret=channel.secrets.has(SecretName.APP_SECRET),
        messages_per_second=channel.messages_per_second,
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


def audited_fields(channel: Channel) -> dict[str, object]:
    """What an audit entry may record of a channel: no secret, only whether there is one
    (the settings are no secret: ids, names, addresses)."""
    return {
        "name": channel.name,
        "status": channel.status.value,
        "verify_token_set": bool(channel.verify_token),
        "messages_per_second": channel.messages_per_second,
        **{
            k: v
            for k, v in channel.settings.model_dump(exclude={"type"}).items()
            if k not in _PROFILE_FIELDS
        },
        "has_access_token": channel.secrets.has(channel.credential_secret),
        "has_app_secret": channel.secrets.has(SecretName.APP_SECRET),
    }


_PROFILE_FIELDS = frozenset(
    {"display_phone_number", "verified_name", "quality_rating", "page_name"}
)  # what the provider reports, not what the tenant set: kept out of the audit as before


def new_verify_token() -> str:
    return secrets.token_urlsafe(24)


async def existing_channel(channels: ChannelRepository, channel_id: str) -> Channel:
    channel = await channels.get(channel_id)
    if channel is None:
        raise NotFound(CHANNEL_NOT_FOUND)
    return channel


async def checked_profile(
    gateways: ChannelGateways, channel: Channel, *, plaintexts: tuple[str, ...]
) -> ChannelProfile:
    """The provider's profile of the account; `ChannelCheckFailed` (422) with the
    provider's reason, every secret given masked, when it refuses or cannot be reached."""
    try:
        return await gateways.check(channel)
    except ChannelTransientFailure as exc:
        reason = "The provider could not be reached: " + exc.detail
    except ChannelPermanentFailure as exc:
        reason = "The provider refused these credentials: " + exc.detail
    for secret in plaintexts:
        if secret and len(secret) >= 4:
            reason = reason.replace(secret, "***")
    raise ChannelCheckFailed(reason)


def with_profile(channel: Channel, profile: ChannelProfile) -> Channel:
    settings = channel.settings.model_copy(update=profile.for_settings(channel.settings))
    return channel.model_copy(update={"settings": settings})


async def stored_channel(
    channels: ChannelRepository, gate: PlanGate, channel: Channel, profile: ChannelProfile
) -> Channel:
    """Store a newly checked channel of any provider, counted against the plan's
    `channels` (402 `plan_limit_reached` past it); an account already connected, in any
    tenant, is `Conflict` (409)."""
    try:
        async with gate.admitting(LimitName.CHANNELS):
            return await channels.add(with_profile(channel, profile))
    except Conflict:
        raise Conflict(ALREADY_CONNECTED) from None


def webhook_url(channel: Channel, policy: ChannelPolicy) -> str:
    return f"{policy.webhook_base_url}/{channel.type.value}/{channel.id or ''}"


async def registered_webhook(
    gateways: ChannelGateways, box: SecretBox, channel: Channel, policy: ChannelPolicy
) -> None:
    """Point the provider's webhook at the channel's URL with its stored secret token
    (Telegram's `setWebhook`; nothing for Meta's): a refusal is `ChannelCheckFailed`."""
    ciphertext = channel.secrets.get(SecretName.WEBHOOK_SECRET_TOKEN)
    if ciphertext is None:
        return
    try:
        await gateways.for_channel(channel).register_webhook(
            webhook_url(channel, policy), box.decrypt(ciphertext)
        )
    except ChannelTransientFailure as exc:
        raise ChannelCheckFailed("The provider could not be reached: " + exc.detail) from None
    except ChannelPermanentFailure as exc:
        raise ChannelCheckFailed("The provider refused the webhook: " + exc.detail) from None


def new_secret_token() -> str:
    """Telegram's `secret_token`: 1-256 characters of A-Z, a-z, 0-9, _ and -."""
    return secrets.token_urlsafe(48)


@asynccontextmanager
async def provider_call(channels: ChannelRepository, channel: Channel) -> AsyncIterator[None]:
    """Wraps a call to the channel's provider: a refused token (`ChannelTokenInvalid`,
    Meta's 190, Telegram's 401) marks the channel `token_invalid` (`token_refused`), then
    is raised again."""
    try:
        yield
    except ChannelTokenInvalid:
        await token_refused(channels, channel)
        raise


async def token_refused(channels: ChannelRepository, channel: Channel) -> None:
    """The provider refused the token `channel` carries: the channel becomes
    `token_invalid`, on condition that it still has that token (one rotated meanwhile
    stays active)."""
    secret = channel.credential_secret
    token = channel.secrets.get(secret)
    if (
        channel.id
        and token
        and await channels.mark_token_invalid(channel.id, token, stored_now(), secret=secret)
    ):
        log.warning("channel %s: the provider refused its token; marked token_invalid",
                    channel.id)  # fmt: skip
