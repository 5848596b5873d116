"""The whole configuration: the app's own fields, one field per group, the production
checks, and `load_settings()` which turns validation failures into one readable message."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings

from api.config.ai import AiSettings, AssistantSettings
from api.config.base import DEV_SECRET_PREFIX, Environment, env_config
from api.config.callbacks import CallbackSettings
from api.config.campaign_sending import CampaignSendSettings
from api.config.campaigns import CampaignSettings
from api.config.data import MongoSettings, RedisSettings
from api.config.identity import AuthSettings, SecuritySettings
from api.config.imports import ImportSettings
from api.config.jobs import JobSettings
from api.config.mail import MailSettings, SmtpSettings
from api.config.meetings import MeetingSettings
from api.config.messaging import (
    InboxConfig,
    MetaSettings,
    RealtimeSettings,
    TelegramSettings,
    WhatsAppSettings,
)
from api.config.monitoring import MetricsSettings
from api.config.plans import PlanSettings
from api.config.platform import OtpSettings, SignupSettings
from api.config.server import DEV_PUBLIC_BASE_URL, ServerSettings
from api.config.storage import StorageSettings
from api.config.tenancy import TenancySettings


class Settings(BaseSettings):
    """The whole configuration; build it with `load_settings()`."""

    model_config = env_config()

    environment: Environment = Environment.DEVELOPMENT
    app_name: str = "Parley"
    log_level: str = "INFO"
    log_format: str | None = Field(
        default=None, description="`console` (colour) or `json`; by environment when unset."
    )
    api_prefix: str = "/api/v1"
    loop_block_warn_ms: float = Field(
        default=0, ge=0, description="Log event-loop stalls longer than this (0: off)."
    )
    max_json_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body of routes that declare no limit of their own (413).",
    )
    max_webhook_body_bytes: int = Field(
        default=3 * 1024 * 1024,
        ge=1024,
        description="Largest body of a provider's webhook delivery (413).",
    )
    webhook_channel_cache_seconds: float = Field(
        default=5,
        ge=0,
        le=300,
        description=(
            "How long an API or worker process keeps a webhook's channel in memory (0: "
            "read it for every delivery); a change to a channel reaches webhooks within it."
        ),
    )
    webhook_sweep_interval_seconds: float = Field(
        default=60, gt=0, description="How often beat re-queues deliveries whose job was lost."
    )
    webhook_sweep_after_seconds: float = Field(
        default=120,
        gt=0,
        description="A delivery not processed this long after it arrived is re-queued.",
    )
    snooze_wake_interval_seconds: float = Field(
        default=30,
        gt=0,
        description="How often beat wakes snoozed conversations whose time has come.",
    )
    webhook_retention_days: int = Field(
        default=30,
        ge=8,
        description="Days raw webhook deliveries and item records are kept (Meta retries 7).",
    )
    webhook_item_lease_seconds: int = Field(
        default=300,
        ge=10,
        description=(
            "How long a claimed item is held before a crashed processing lets it go (at "
            "least JOB_TIME_LIMIT_SECONDS + 30)."
        ),
    )
    send_max_attempts: int = Field(
        default=6,
        ge=1,
        le=50,
        description=(
            "Attempts of the job that sends one message (throughput limits, 5xx); after the "
            "last one the message fails with the provider's code."
        ),
    )
    send_retry_backoff_seconds: float = Field(
        default=2.0, gt=0, description="First retry delay of a send (doubles, full jitter)."
    )
    send_retry_backoff_max_seconds: float = Field(
        default=300.0, gt=0, description="Longest delay between two attempts of a send."
    )
    send_sweep_interval_seconds: float = Field(
        default=60, gt=0, description="How often beat re-queues messages whose send job was lost."
    )
    send_sweep_after_seconds: float = Field(
        default=900,
        ge=60,
        description=(
            "A message still queued this long after it was created, and held by no send "
            "run, is queued again (its job was lost)."
        ),
    )
    send_channel_cache_seconds: float = Field(
        default=5,
        ge=0,
        le=300,
        description=(
            "How long a worker keeps an active channel in memory for its sends (0: read it "
            "for every send); a change to a channel reaches sends within it (a token the "
            "provider refuses is read again first, and a rotated one used)."
        ),
    )
    send_channel_max_in_flight: int = Field(
        default=4,
        ge=0,
        le=1000,
        description=(
            "Sends of one channel at its provider at once, across all workers (0: no cap): a "
            "provider that hangs holds at most this many worker threads (keep it below "
            "WORKER_CONCURRENCY); a send finding them all taken is queued again."
        ),
    )
    send_channel_busy_retry_seconds: float = Field(
        default=1.0,
        gt=0,
        le=300,
        description="When a send that found its channel's slots taken is queued again.",
    )
    send_rate_max_wait_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a send waits for its number's rate bucket before re-queuing.",
    )
    idempotency_key_ttl_hours: int = Field(
        default=24, ge=1, le=24 * 30, description="How long `Idempotency-Key`s are remembered."
    )
    analytics_cache_seconds: int = Field(
        default=60,
        ge=0,
        le=3600,
        description="How long a tenant's dashboard answer is served again (0: never cached).",
    )
    contact_export_ttl_hours: int = Field(
        default=24,
        ge=1,
        le=24 * 30,
        description="How long a finished contact export's file is offered for download.",
    )
    contact_export_sweep_interval_seconds: float = Field(
        default=600,
        gt=0,
        description="How often beat deletes the files of contact exports past expires_at.",
    )
    ticket_sla_interval_seconds: float = Field(
        default=60,
        gt=0,
        le=3600,
        description="How often beat records the tickets' SLA breaches and escalates them.",
    )
    ticket_sla_batch: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="At most this many due tickets are checked per SLA run (the rest next run).",
    )
    transcript_ttl_hours: int = Field(
        default=24,
        ge=1,
        le=24 * 7,  # the media links inside live as long: providers sign for 7 days at most
        description="How long a ready conversation transcript (and the media links in it) "
        "is offered for download.",
    )
    transcript_sweep_interval_seconds: float = Field(
        default=600,
        gt=0,
        description="How often beat deletes the files of transcripts past expires_at.",
    )
    transcript_pdf_max_entries: int = Field(
        default=20_000,
        ge=100,
        le=200_000,
        description="The most entries (messages, notes, status changes) a PDF transcript "
        "holds; the CSV has them all.",
    )
    transcript_max_active: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="The most transcripts one tenant may have queued or running at a time "
        "(one per conversation); past it a request is 429.",
    )

    mongo: MongoSettings = Field(default_factory=MongoSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    tenancy: TenancySettings = Field(default_factory=TenancySettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    ai: AiSettings = Field(default_factory=AiSettings)
    assistants: AssistantSettings = Field(default_factory=AssistantSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    campaigns: CampaignSettings = Field(default_factory=CampaignSettings)
    whatsapp: WhatsAppSettings = Field(default_factory=WhatsAppSettings)
    meta: MetaSettings = Field(default_factory=MetaSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    realtime: RealtimeSettings = Field(default_factory=RealtimeSettings)
    inbox: InboxConfig = Field(default_factory=InboxConfig)
    imports: ImportSettings = Field(default_factory=ImportSettings)
    campaign_sending: CampaignSendSettings = Field(default_factory=CampaignSendSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    meetings: MeetingSettings = Field(default_factory=MeetingSettings)
    otp: OtpSettings = Field(default_factory=OtpSettings)
    signup: SignupSettings = Field(default_factory=SignupSettings)
    plans: PlanSettings = Field(default_factory=PlanSettings)

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def public_base_url(self) -> str:
        """`PUBLIC_BASE_URL`, no trailing slash (required in production)."""
        return (self.server.public_base_url or DEV_PUBLIC_BASE_URL).rstrip("/")

    @property
    def broker_url(self) -> str:
        return self.jobs.celery_broker_url or self.redis.resolved_url

    @property
    def result_backend_url(self) -> str:
        return self.jobs.celery_result_backend or self.broker_url

    @property
    def metrics_served(self) -> bool:
        """`/metrics` is served with a token, or without one outside production."""
        return self.metrics.metrics_token is not None or not self.is_production

    @property
    def json_logs(self) -> bool:
        if self.log_format:
            return self.log_format.lower() == "json"
        return self.is_production

    @model_validator(mode="after")
    def check_production(self) -> Settings:
        """In production, refuse to start on a missing, default or weak secret."""
        if not self.is_production:
            return self
        secrets = {
            "JWT_SECRET": self.security.jwt_secret,
            "REFRESH_TOKEN_SECRET": self.security.refresh_token_secret,
            "ADMIN_PASSWORD": self.security.admin_password,
        }
        for name, secret in secrets.items():
            value = secret.get_secret_value()
            if not value or value.startswith(DEV_SECRET_PREFIX):
                raise ValueError(f"{name} must be set (ENVIRONMENT=production)")
        for name in ("JWT_SECRET", "REFRESH_TOKEN_SECRET"):
            if len(secrets[name].get_secret_value()) < 32:
                raise ValueError(f"{name} must be at least 32 characters (ENVIRONMENT=production)")
        if (
            secrets["JWT_SECRET"].get_secret_value()
            == secrets["REFRESH_TOKEN_SECRET"].get_secret_value()
        ):
            raise ValueError("REFRESH_TOKEN_SECRET must differ from JWT_SECRET")
        if self.auth.encryption_key is None:
            raise ValueError("ENCRYPTION_KEY must be set (ENVIRONMENT=production)")
        if self.server.public_base_url is None:
            raise ValueError(
                "PUBLIC_BASE_URL must be set (ENVIRONMENT=production): the URL clients reach "
                "Parley at, e.g. https://parley.example.com (links in mail and downloads)"
            )
        if self.auth.jwt_algorithm == "RS256" and not (
            self.auth.jwt_private_key_file and self.auth.jwt_public_key_file
        ):
            raise ValueError("JWT_PRIVATE_KEY_FILE and JWT_PUBLIC_KEY_FILE are needed for RS256")
        token = self.metrics.metrics_token
        if token is not None and (
            len(token.get_secret_value()) < 32
            or token.get_secret_value().startswith(DEV_SECRET_PREFIX)
        ):
            raise ValueError("METRICS_TOKEN must be at least 32 random characters (production)")
        if "*" in self.whatsapp.allowed_graph_base_urls:
            raise ValueError(
                "WHATSAPP_ALLOWED_GRAPH_BASE_URLS='*' would let a tenant send its channel's "
                "token (and Parley's requests) to any address: list the allowed bases"
            )
        if "*" in self.telegram.allowed_api_base_urls:
            raise ValueError(
                "TELEGRAM_ALLOWED_API_BASE_URLS='*' would let a tenant send its bot token to "
                "any address: list the allowed bases"
            )
        if "*" in self.security.cors_origins and self.security.cors_allow_credentials:
            raise ValueError("CORS_ORIGINS='*' cannot be used with credentials in production")
        return self


class ConfigurationError(RuntimeError):
    """The environment does not describe a runnable configuration."""


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning validation failures into one readable message."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        prefix = _env_prefix(exc.title)
        problems = "; ".join(_describe(error, prefix) for error in exc.errors())
        raise ConfigurationError(f"invalid configuration: {problems}") from None


def _env_prefix(title: str) -> str:
    """The environment prefix of the settings group named `title` (`MongoSettings`: `MONGO_`),
    so that a problem in a group names the variable as it is set."""
    for field in Settings.model_fields.values():
        group = field.annotation
        if isinstance(group, type) and group.__name__ == title:
            return str(getattr(group, "model_config", {}).get("env_prefix", "")).upper()
    return ""


def _describe(error: ErrorDetails, prefix: str = "") -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "__root__")
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{prefix}{where.upper()}: {message}" if where else message
