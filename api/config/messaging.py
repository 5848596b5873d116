"""Messaging channels: WhatsApp Cloud API defaults and the platform's own Meta app;
Telegram's Bot API defaults."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from api.config.base import CsvList, env_config, split_csv


class MetaSettings(BaseSettings):
    """`META_*`: the platform's own Meta app for Messenger and Instagram (its platform
    webhooks, `/api/v1/webhooks/messenger` and `/api/v1/webhooks/instagram`)."""

    model_config = env_config("META_")

    app_secret: SecretStr | None = Field(
        default=None,
        description="The platform's Meta app secret for Messenger and Instagram: signs their "
        "platform webhooks and the webhooks of channels without a secret of their own.",
    )
    verify_token: SecretStr | None = Field(
        default=None,
        description="Verify token of the platform's Messenger and Instagram webhooks.",
    )


class WhatsAppSettings(BaseSettings):
    """`WHATSAPP_*`: what a channel gets when it names nothing else, and the platform app."""

    model_config = env_config("WHATSAPP_")

    graph_base_url: str = Field(
        default="https://graph.facebook.com",
        description="Graph API base of new channels (a local fake in tests).",
    )
    api_version: str = Field(default="v26.0", pattern=r"^v\d{1,3}\.\d{1,2}$")
    app_secret: SecretStr | None = Field(
        default=None,
        description="The platform's Meta app secret: signs webhooks of channels without one.",
    )
    verify_token: SecretStr | None = Field(
        default=None, description="Verify token of the platform's own webhook."
    )
    allowed_graph_base_urls: CsvList = Field(
        default_factory=list,
        description=(
            "Graph API bases a channel may name besides WHATSAPP_GRAPH_BASE_URL (comma "
            "separated); `*` allows any (never in production): Parley sends the channel's "
            "token to that address."
        ),
    )
    messages_per_second: int = Field(default=80, ge=1, le=1000)
    timeout_seconds: float = Field(default=30, gt=0, le=300)
    max_connections: int = Field(default=100, ge=1, le=10000)

    _csv = field_validator("allowed_graph_base_urls", mode="before")(split_csv)

    @field_validator("graph_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("allowed_graph_base_urls")
    @classmethod
    def _base_urls(cls, values: list[str]) -> list[str]:
        return _http_bases(values)

    @property
    def channel_graph_base_urls(self) -> frozenset[str] | None:
        """The Graph bases a channel may use; None when any is allowed (`*`)."""
        if "*" in self.allowed_graph_base_urls:
            return None
        return frozenset({self.graph_base_url, *self.allowed_graph_base_urls})


def _http_bases(values: list[str]) -> list[str]:
    for value in values:
        url = urlsplit(value)
        if value != "*" and (url.scheme not in ("http", "https") or not url.hostname):
            raise ValueError(f"{value!r} is not an http(s) URL (or `*`)")
    return [value.rstrip("/") for value in values]


class TelegramSettings(BaseSettings):
    """`TELEGRAM_*`: the Bot API a Telegram channel talks to when it names no other."""

    model_config = env_config("TELEGRAM_")

    api_base_url: str = Field(
        default="https://api.telegram.org",
        description="Bot API base of new Telegram channels (a local Bot API server or a fake).",
    )
    allowed_api_base_urls: CsvList = Field(
        default_factory=list,
        description=(
            "Bot API bases a channel may name besides TELEGRAM_API_BASE_URL (comma "
            "separated); `*` allows any (never in production): Parley sends the bot token "
            "to that address."
        ),
    )
    messages_per_second: int = Field(
        default=30, ge=1, le=1000, description="Send rate of a new bot (Telegram's ~30/s)."
    )
    timeout_seconds: float = Field(default=30, gt=0, le=300)

    _csv = field_validator("allowed_api_base_urls", mode="before")(split_csv)

    @field_validator("api_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        url = urlsplit(value)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("allowed_api_base_urls")
    @classmethod
    def _base_urls(cls, values: list[str]) -> list[str]:
        return _http_bases(values)

    @property
    def channel_api_base_urls(self) -> frozenset[str] | None:
        """The Bot API bases a channel may use; None when any is allowed (`*`)."""
        if "*" in self.allowed_api_base_urls:
            return None
        return frozenset({self.api_base_url, *self.allowed_api_base_urls})


class RealtimeSettings(BaseSettings):
    """`REALTIME_*`: the inbox's real-time events (`/api/v1/ws`)."""

    model_config = env_config("REALTIME_")

    retention_seconds: int = Field(
        default=7200,
        ge=3600,
        le=7 * 24 * 3600,
        description="How long events are kept for sockets resuming after a reconnect.",
    )
    auth_timeout_seconds: float = Field(
        default=10,
        gt=0,
        le=300,
        description="A socket with no token in its URL must send its `auth` frame this soon.",
    )
    heartbeat_seconds: float = Field(
        default=25, gt=0, le=3600, description="Interval of the server's `heartbeat` frames."
    )
    idle_timeout_seconds: float = Field(
        default=60,
        gt=0,
        le=7200,
        description="A socket that sent nothing (a `ping`, a `pong`...) this long is closed.",
    )
    queue_size: int = Field(
        default=500,
        ge=1,
        le=100_000,
        description="Frames waiting for one socket; a socket whose queue overflows is closed.",
    )
    max_frame_bytes: int = Field(
        default=16 * 1024, ge=256, le=1024 * 1024, description="Largest client frame (1009)."
    )
    max_invalid_frames: int = Field(
        default=10, ge=1, le=1000, description="Invalid client frames tolerated (then 1008)."
    )
    replay_max_events: int = Field(
        default=5000,
        ge=1,
        le=1_000_000,
        description="Most events a `resume` replays; more missed is `cursor_expired`.",
    )
    read_block_ms: int = Field(
        default=5000,
        ge=10,
        le=60_000,
        description="How long the process's stream reader waits in one XREAD.",
    )
    read_batch: int = Field(
        default=500, ge=1, le=10_000, description="Entries the reader takes per XREAD."
    )


class InboxConfig(BaseSettings):
    """`INBOX_*`: agents' presence and auto-assignment."""

    model_config = env_config("INBOX_")

    presence_ttl_seconds: int = Field(
        default=90,
        ge=10,
        le=3600,
        description=(
            "How long an agent's online/away presence lasts unless refreshed (by the client "
            "re-sending it or by its socket); then it reads offline."
        ),
    )
    assign_lock_seconds: float = Field(
        default=10,
        gt=0,
        le=60,
        description="Lease of a tenant's auto-assignment lock (one assignment at a time).",
    )
