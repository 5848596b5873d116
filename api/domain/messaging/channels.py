"""Channels: one connected number or account of a messaging provider, per tenant.

A channel holds its provider's settings as a typed value (`ChannelSettings`, one model per
provider, told apart by `type`) and its secrets only as opaque ciphertexts
(`ChannelSecrets`): the domain never sees a token in clear. The adapter that talks to the
provider decrypts them when it builds its client.

Every provider's settings name `account_id` (what its webhooks name; connected once across
all tenants) and `business_account_id` (the business account templates live in; None for
providers without one). What differs between providers is told by the channel type's
capabilities (`credential_secret`, `has_service_window`, `supports_templates`,
`is_meta_type`), never by checking for WhatsApp above the adapters.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag


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
    BOT_TOKEN = "bot_token"  # noqa: S105 - Telegram's bot token
    WEBHOOK_SECRET_TOKEN = "webhook_secret_token"  # noqa: S105 - Telegram's secret_token
    PAGE_ACCESS_TOKEN = "page_access_token"  # noqa: S105 - Messenger's page token


META_TYPES = frozenset({ChannelType.WHATSAPP, ChannelType.MESSENGER, ChannelType.INSTAGRAM})
_CREDENTIAL = {
    ChannelType.WHATSAPP: SecretName.ACCESS_TOKEN,
    ChannelType.TELEGRAM: SecretName.BOT_TOKEN,
    ChannelType.MESSENGER: SecretName.PAGE_ACCESS_TOKEN,
    ChannelType.INSTAGRAM: SecretName.ACCESS_TOKEN,
}


def is_meta_type(type: ChannelType) -> bool:
    """Meta's providers: webhooks verified by `hub.*` and signed with `X-Hub-Signature-256`
    (the channel's app secret)."""
    return type in META_TYPES


def credential_secret(type: ChannelType) -> SecretName:
    """The secret that authenticates Parley's calls to the provider (the one a refusal
    marks `token_invalid` and a rotation replaces)."""
    return _CREDENTIAL[type]


def has_service_window(type: ChannelType) -> bool:
    """Whether free-form sends need the customer's 24-hour service window (Meta's
    providers); Telegram has none: a bot may write to whoever wrote to it."""
    return type in META_TYPES


def recipient_rate(type: ChannelType) -> int | None:
    """Messages per second one recipient may get, where the provider limits it (Telegram:
    about one a second per chat); None: only the account's rate applies."""
    return 1 if type is ChannelType.TELEGRAM else None


def uploads_media(type: ChannelType) -> bool:
    """Whether stored files are sent as uploads (Telegram, multipart) rather than by a
    link the provider fetches (Meta's)."""
    return type is ChannelType.TELEGRAM


MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # the Bot API's limit for files a bot sends


def supports_templates(type: ChannelType) -> bool:
    """Whether the provider has message templates (WhatsApp only)."""
    return type is ChannelType.WHATSAPP


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


class TelegramSettings(BaseModel):
    """A Telegram bot: its id (the token's prefix), username and Bot API base."""

    model_config = ConfigDict(frozen=True)

    type: Literal[ChannelType.TELEGRAM] = ChannelType.TELEGRAM
    bot_id: str
    bot_username: str | None = None
    api_base_url: str  # e.g. "https://api.telegram.org", no trailing slash

    @property
    def account_id(self) -> str:
        return self.bot_id

    @property
    def business_account_id(self) -> str | None:
        return None


class MessengerSettings(BaseModel):
    """A Facebook Page on Messenger (Graph API)."""

    model_config = ConfigDict(frozen=True)

    type: Literal[ChannelType.MESSENGER] = ChannelType.MESSENGER
    page_id: str
    api_version: str
    graph_base_url: str
    page_name: str | None = None
    # Meta's HUMAN_AGENT tag: agents may answer for 7 days, not 24 hours (the app needs it)
    human_agent_tag: bool = False

    @property
    def account_id(self) -> str:
        return self.page_id

    @property
    def business_account_id(self) -> str | None:
        return None


class InstagramSettings(BaseModel):
    """An Instagram professional account, through its linked Page (Graph API)."""

    model_config = ConfigDict(frozen=True)

    type: Literal[ChannelType.INSTAGRAM] = ChannelType.INSTAGRAM
    instagram_account_id: str
    page_id: str
    api_version: str
    graph_base_url: str
    username: str | None = None
    human_agent_tag: bool = False  # as Messenger's

    @property
    def account_id(self) -> str:
        return self.instagram_account_id

    @property
    def business_account_id(self) -> str | None:
        return None


def _settings_type(value: Any) -> str:
    """The settings' `type` (stored WhatsApp settings from before the union may lack it)."""
    found = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return str(found or ChannelType.WHATSAPP.value)


ChannelSettings = Annotated[
    Annotated[WhatsAppSettings, Tag(ChannelType.WHATSAPP.value)]
    | Annotated[TelegramSettings, Tag(ChannelType.TELEGRAM.value)]
    | Annotated[MessengerSettings, Tag(ChannelType.MESSENGER.value)]
    | Annotated[InstagramSettings, Tag(ChannelType.INSTAGRAM.value)],
    Discriminator(_settings_type),
]


class ChannelProfile(BaseModel):
    """What the provider says about the account when its credentials are checked (each
    provider fills its own fields; `with_profile` copies those its settings have)."""

    model_config = ConfigDict(frozen=True)

    display_phone_number: str | None = None
    verified_name: str | None = None
    quality_rating: str | None = None
    bot_id: str | None = None
    bot_username: str | None = None
    page_name: str | None = None
    username: str | None = None

    def for_settings(self, settings: BaseModel) -> dict[str, Any]:
        """The profile's fields the settings have (WhatsApp's three, always; another
        provider's only when it named them)."""
        fields = type(settings).model_fields
        values = self.model_dump()
        if isinstance(settings, WhatsAppSettings):
            return {k: v for k, v in values.items() if k in fields}
        return {k: v for k, v in values.items() if k in fields and v is not None}


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
    def business_account_id(self) -> str | None:
        return self.settings.business_account_id

    @property
    def credential_secret(self) -> SecretName:
        return credential_secret(self.type)


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

    async def mark_token_invalid(
        self,
        channel_id: str,
        refused_token: str,
        at: datetime,
        *,
        secret: SecretName = SecretName.ACCESS_TOKEN,
    ) -> bool:
        """`token_invalid` for an active channel whose credential `secret` (ciphertext) is
        still `refused_token`: atomic, so a token rotated meanwhile is neither overwritten nor
        marked. True when it was marked now."""
        ...
