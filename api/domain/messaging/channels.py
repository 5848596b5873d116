"""Channels: one connected number or account of a messaging provider, per tenant.

A channel holds its provider's settings as a typed value (`WhatsAppSettings` today) and
its secrets only as opaque ciphertexts (`ChannelSecrets`): the domain never sees a token
in clear. The adapter that talks to the provider decrypts them when it builds its client.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field


class ChannelType(StrEnum):
    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"
    INSTAGRAM = "instagram"
    MESSENGER = "messenger"


class ChannelStatus(StrEnum):
    ACTIVE = "active"
    TOKEN_INVALID = "token_invalid"  # noqa: S105 - a status: new credentials needed
    DISCONNECTED = "disconnected"  # deleted by the tenant; history kept, nothing sent


class SecretName(StrEnum):
    ACCESS_TOKEN = "access_token"  # noqa: S105 - a name, not a secret
    APP_SECRET = "app_secret"  # noqa: S105 - a name, not a secret


class ChannelSecrets(BaseModel):
    """Secret name → ciphertext (encrypted with the deployment's key); never plaintext."""

    model_config = ConfigDict(frozen=True)

    ciphertexts: dict[SecretName, str] = Field(default_factory=dict)

    def has(self, name: SecretName) -> bool:
        return bool(self.ciphertexts.get(name))

    def get(self, name: SecretName) -> str | None:
        return self.ciphertexts.get(name)

    def with_secret(self, name: SecretName, ciphertext: str | None) -> ChannelSecrets:
        """A copy with `name` set to `ciphertext` (or removed when None)."""
        updated = dict(self.ciphertexts)
        if ciphertext is None:
            updated.pop(name, None)
        else:
            updated[name] = ciphertext
        return ChannelSecrets(ciphertexts=updated)


class WhatsAppSettings(BaseModel):
    """A WhatsApp Cloud API number: where it lives and what Meta says about it."""

    model_config = ConfigDict(frozen=True)

    type: Literal[ChannelType.WHATSAPP] = ChannelType.WHATSAPP
    phone_number_id: str
    waba_id: str
    api_version: str  # e.g. "v26.0"
    graph_base_url: str  # e.g. "https://graph.facebook.com", no trailing slash
    display_phone_number: str | None = None
    verified_name: str | None = None
    quality_rating: str | None = None

    @property
    def account_id(self) -> str:
        """The provider's id of this account (what webhooks name, unique across tenants)."""
        return self.phone_number_id

    @property
    def business_account_id(self) -> str:
        """The business account the number belongs to (templates live there; several
        numbers, even of several tenants, may share one)."""
        return self.waba_id


# More providers join as a discriminated union on `type`.
ChannelSettings = WhatsAppSettings


class ChannelProfile(BaseModel):
    """What the provider says about the account when its credentials are checked."""

    model_config = ConfigDict(frozen=True)

    display_phone_number: str | None = None
    verified_name: str | None = None
    quality_rating: str | None = None


class Channel(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    type: ChannelType
    name: str = Field(min_length=1, max_length=100)
    status: ChannelStatus = ChannelStatus.ACTIVE
    settings: ChannelSettings
    secrets: ChannelSecrets = Field(default_factory=ChannelSecrets)
    verify_token: str  # for the provider's webhook verification; shown to channel readers
    messages_per_second: int = Field(ge=1, le=1000)
    created_at: datetime
    updated_at: datetime

    @property
    def account_id(self) -> str:
        return self.settings.account_id

    @property
    def business_account_id(self) -> str:
        return self.settings.business_account_id


class ChannelPage(BaseModel):
    items: list[Channel]
    total: int


class ChannelRepository(Protocol):
    """Channels of the current tenant (scoped by the context; fail closed without one)."""

    async def add(self, channel: Channel) -> Channel:
        """Store a new channel; `Conflict` when another channel that is not disconnected,
        in any tenant, already uses the same provider account (a unique index decides)."""
        ...

    async def get(self, channel_id: str) -> Channel | None: ...

    async def search(
        self, *, type: ChannelType | None, status: ChannelStatus | None, skip: int, limit: int
    ) -> ChannelPage:
        """Newest first."""
        ...

    async def replace(self, channel: Channel) -> Channel | None:
        """Write the channel as given (settings, secrets, status...); None when it is gone.
        A disconnected channel frees its provider account for another connection."""
        ...

    async def mark_token_invalid(self, channel_id: str, refused_token: str, at: datetime) -> bool:
        """`token_invalid` for an active channel whose access token (ciphertext) is still
        `refused_token`: atomic, so a token rotated meanwhile is neither overwritten nor
        marked. True when it was marked now."""
        ...
