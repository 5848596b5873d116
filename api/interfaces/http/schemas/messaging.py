"""Request and response bodies of the channel routes.

Secrets (`access_token`, `app_secret`) appear only in requests; the response model has no
field that could carry one (`has_access_token`, `has_app_secret` instead).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.domain.messaging.channels import ChannelStatus, ChannelType
from api.usecases.messaging.list_channels import ChannelList
from api.usecases.messaging.rules import ChannelView
from api.usecases.messaging.update_channel import ChannelChanges

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)
GRAPH_ID = r"^[0-9]{1,32}$"
API_VERSION = r"^v[0-9]{1,3}\.[0-9]{1,2}$"
NO_SPACES = r"^\S+$"
# Sent as `Authorization: Bearer <token>`: only what an HTTP header value can carry
# (visible ASCII; anything else was a 500 when the client was built).
HEADER_TEXT = r"^[\x21-\x7E]+$"


def _http_base_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("must not carry credentials, a query or a fragment")
    return value.rstrip("/")


class WhatsAppChannelIn(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=100)
    phone_number_id: str = Field(pattern=GRAPH_ID, description="Meta's phone number id.")
    waba_id: str = Field(pattern=GRAPH_ID, description="The WhatsApp Business Account id.")
    access_token: str = Field(min_length=1, max_length=4096, pattern=HEADER_TEXT)
    app_secret: str | None = Field(default=None, min_length=1, max_length=256, pattern=NO_SPACES)
    verify_token: str | None = Field(
        default=None,
        min_length=8,
        max_length=256,
        pattern=NO_SPACES,
        description="For Meta's webhook verification; generated when not given.",
    )
    api_version: str | None = Field(default=None, pattern=API_VERSION, examples=["v26.0"])
    graph_base_url: str | None = Field(default=None, max_length=2048)
    messages_per_second: int | None = Field(default=None, ge=1, le=1000)

    _base_url = field_validator("graph_base_url")(_http_base_url)


class _MetaChannelIn(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=100)
    app_secret: str = Field(
        min_length=1, max_length=256, pattern=NO_SPACES,
        description="The Meta app's secret: webhook signatures (and Instagram's data "
        "deletion requests) are checked with it.",
    )  # fmt: skip
    verify_token: str | None = Field(
        default=None,
        min_length=8,
        max_length=256,
        pattern=NO_SPACES,
        description="For Meta's webhook verification; generated when not given.",
    )
    api_version: str | None = Field(default=None, pattern=API_VERSION, examples=["v23.0"])
    graph_base_url: str | None = Field(default=None, max_length=2048)
    messages_per_second: int | None = Field(default=None, ge=1, le=1000)
    human_agent_tag: bool = Field(
        default=False,
        description="Whether agents may answer for 7 days after the customer's last message "
        "with Meta's HUMAN_AGENT tag (the app needs Meta's Human Agent permission); "
        "otherwise free-form sends stop 24 hours after it.",
    )

    _base_url = field_validator("graph_base_url")(_http_base_url)


class MessengerChannelIn(_MetaChannelIn):
    page_id: str = Field(pattern=GRAPH_ID, description="The Facebook Page's id.")
    page_access_token: str = Field(min_length=1, max_length=4096, pattern=HEADER_TEXT)


class InstagramChannelIn(_MetaChannelIn):
    instagram_account_id: str = Field(
        pattern=GRAPH_ID, description="The Instagram professional account's id."
    )
    page_id: str = Field(pattern=GRAPH_ID, description="The Facebook Page linked to it.")
    access_token: str = Field(min_length=1, max_length=4096, pattern=HEADER_TEXT)


BOT_TOKEN_PATTERN = r"^[0-9]{1,20}:[A-Za-z0-9_-]{20,200}$"  # noqa: S105 - a pattern


class TelegramChannelIn(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=100)
    bot_token: str = Field(
        pattern=BOT_TOKEN_PATTERN, description="The bot's token from @BotFather."
    )
    api_base_url: str | None = Field(
        default=None,
        max_length=2048,
        description="Bot API base (a local Bot API server); default `TELEGRAM_API_BASE_URL`.",
    )
    messages_per_second: int | None = Field(default=None, ge=1, le=1000)

    _base_url = field_validator("api_base_url")(_http_base_url)


class ChannelUpdateIn(BaseModel):
    """Every field is optional; `app_secret: null` removes the channel's own app secret
    (webhooks are then checked with the platform's `WHATSAPP_APP_SECRET`, or
    `META_APP_SECRET` on Messenger and Instagram)."""

    model_config = _STRICT

    name: str | None = Field(default=None, min_length=1, max_length=100)
    access_token: str | None = Field(
        default=None, min_length=1, max_length=4096, pattern=HEADER_TEXT
    )
    app_secret: str | None = Field(default=None, min_length=1, max_length=256, pattern=NO_SPACES)
    verify_token: str | None = Field(default=None, min_length=8, max_length=256, pattern=NO_SPACES)
    api_version: str | None = Field(default=None, pattern=API_VERSION)
    graph_base_url: str | None = Field(default=None, max_length=2048)
    bot_token: str | None = Field(
        default=None, pattern=BOT_TOKEN_PATTERN, description="Telegram: rotate the bot's token."
    )
    api_base_url: str | None = Field(default=None, max_length=2048, description="Telegram.")
    messages_per_second: int | None = Field(default=None, ge=1, le=1000)

    _base_url = field_validator("graph_base_url", "api_base_url")(_http_base_url)

    def to_changes(self) -> ChannelChanges:
        fields = self.model_dump(exclude_unset=True)
        bot_token = fields.pop("bot_token", None)
        if bot_token is not None:  # the channel's credential, whatever the provider names it
            fields["access_token"] = bot_token
        clear = "app_secret" in self.model_fields_set and self.app_secret is None
        return ChannelChanges(
            **{k: v for k, v in fields.items() if v is not None}, clear_app_secret=clear
        )


class ChannelOut(BaseModel):
    """A channel; each provider's settings fill their own fields, the others are null."""

    id: str
    type: ChannelType
    name: str
    status: ChannelStatus
    account_id: str = Field(
        description="The provider's account id: WhatsApp's phone_number_id, the Telegram "
        "bot's id, the Page id (Messenger), the Instagram account id."
    )
    phone_number_id: str | None = Field(default=None, description="WhatsApp.")
    waba_id: str | None = Field(default=None, description="WhatsApp.")
    display_phone_number: str | None = None
    verified_name: str | None = None
    quality_rating: str | None = None
    api_version: str | None = Field(default=None, description="Graph API (Meta's types).")
    graph_base_url: str | None = Field(default=None, description="Graph API (Meta's types).")
    bot_id: str | None = Field(default=None, description="Telegram.")
    bot_username: str | None = Field(default=None, description="Telegram.")
    api_base_url: str | None = Field(default=None, description="Telegram's Bot API base.")
    page_id: str | None = Field(default=None, description="Messenger and Instagram.")
    page_name: str | None = Field(default=None, description="Messenger.")
    instagram_account_id: str | None = Field(default=None, description="Instagram.")
    username: str | None = Field(default=None, description="Instagram.")
    human_agent_tag: bool | None = Field(
        default=None,
        description="Messenger and Instagram: agents may answer for 7 days after the "
        "customer's last message, with Meta's HUMAN_AGENT tag past the first 24 hours.",
    )
    webhook_url: str = Field(
        description="Meta's types: paste it into Meta's dashboard (Webhooks). Telegram: "
        "registered by Parley with setWebhook."
    )
    verify_token: str
    has_access_token: bool = Field(
        description="Whether the channel's credential is stored (access token, bot token "
        "or page access token)."
    )
    has_app_secret: bool
    messages_per_second: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: ChannelView) -> ChannelOut:
        return cls(**view.model_dump())


class ChannelPageOut(BaseModel):
    items: list[ChannelOut]
    total: int
    page: int
    page_size: int

    @classmethod
    def of(cls, found: ChannelList, page: int, page_size: int) -> ChannelPageOut:
        return cls(
            items=[ChannelOut.of(v) for v in found.items],
            total=found.total,
            page=page,
            page_size=page_size,
        )
