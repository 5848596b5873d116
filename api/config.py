"""Settings, read from the environment (and `.env`), grouped by concern.

Every group reads the variable names Parley's users already know (`MONGO_URI`,
`JWT_SECRET`, `REDIS_HOST`, ...). In development, secrets fall back to obvious dev values
so a fresh clone runs; with `ENVIRONMENT=production` a missing or default secret stops
start-up with a message naming the variable (see `Settings.check_production`).
"""

from __future__ import annotations

import base64
import binascii
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from api.domain.tenancy import TenancyStrategy

DEV_SECRET_PREFIX = "dev-insecure-"  # noqa: S105 - a marker, refused in production


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


def _config(prefix: str = "") -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,  # `KEY=` in .env means "use the default", not ""
        case_sensitive=False,
    )


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


class MongoSettings(BaseSettings):
    model_config = _config("MONGO_")

    uri: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    db_name: str = "parley"
    server_selection_timeout_ms: int = Field(default=3000, ge=100)
    connect_timeout_ms: int = Field(default=3000, ge=100)
    socket_timeout_ms: int = Field(default=10000, ge=100)
    max_pool_size: int = Field(default=100, ge=1)
    startup_timeout_seconds: float = Field(default=30.0, ge=0)


class RedisSettings(BaseSettings):
    model_config = _config("REDIS_")

    url: str | None = None
    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    password: SecretStr | None = None
    socket_timeout_seconds: float = Field(default=2.0, gt=0)
    max_connections: int = Field(default=100, ge=1)

    @property
    def resolved_url(self) -> str:
        """`REDIS_URL` when given, else one built from `REDIS_HOST`/`REDIS_PORT`."""
        if self.url:
            return self.url
        auth = ""
        if self.password is not None:
            auth = f":{quote(self.password.get_secret_value(), safe='')}@"
        return f"redis://{auth}{self.host}:{self.port}/{self.db}"


class SecuritySettings(BaseSettings):
    model_config = _config()

    jwt_secret: SecretStr = SecretStr(DEV_SECRET_PREFIX + "jwt-secret-change-me-000000000000")
    refresh_token_secret: SecretStr = SecretStr(
        DEV_SECRET_PREFIX + "refresh-secret-change-me-000000000"
    )
    admin_email: str = "admin@example.com"
    admin_password: SecretStr = SecretStr(DEV_SECRET_PREFIX + "admin-password")
    cors_origins: CsvList = Field(default_factory=list)
    cors_allow_credentials: bool = True

    _csv = field_validator("cors_origins", mode="before")(_split_csv)


class AuthSettings(BaseSettings):
    """Tokens, passwords, MFA, abuse limits and the audit log's retention."""

    model_config = _config()

    jwt_algorithm: str = Field(default="HS256", pattern="^(HS256|RS256)$")
    jwt_private_key_file: str | None = None  # RS256: PEM private key (signing)
    jwt_public_key_file: str | None = None  # RS256: PEM public key (verifying)
    jwt_issuer: str = "parley"
    jwt_audience: str = "parley-api"
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=86400)
    refresh_token_ttl_days: int = Field(default=30, ge=1, le=365)
    refresh_reuse_grace_seconds: float = Field(default=10.0, ge=0, le=60)
    mfa_challenge_ttl_seconds: int = Field(default=300, ge=30, le=1800)
    password_min_length: int = Field(default=8, ge=8, le=128)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost: int = Field(default=65536, ge=1024)  # KiB
    argon2_parallelism: int = Field(default=4, ge=1)
    password_reset_ttl_minutes: int = Field(default=30, ge=5)
    email_verification_ttl_hours: int = Field(default=48, ge=1)
    invitation_ttl_hours: int = Field(default=72, ge=1)
    encryption_key: SecretStr | None = None  # Fernet key for secrets at rest
    login_rate_per_ip: int = Field(default=30, ge=1)  # per minute
    login_rate_per_account: int = Field(default=10, ge=1)  # per minute
    sensitive_rate_per_ip: int = Field(default=10, ge=1)  # refresh/forgot/MFA, per minute
    lockout_threshold: int = Field(default=5, ge=1)  # failures before lockout
    lockout_minutes: int = Field(default=15, ge=1)
    audit_retention_days: int = Field(default=365, ge=1)

    @field_validator("encryption_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            raw = base64.urlsafe_b64decode(value.get_secret_value().encode())
        except (ValueError, binascii.Error):
            raw = b""
        if len(raw) != 32:
            raise ValueError(
                "ENCRYPTION_KEY must be a Fernet key (32 url-safe base64-encoded bytes)"
            )
        return value


class TenancySettings(BaseSettings):
    model_config = _config()

    multi_tenancy_strategy: TenancyStrategy = TenancyStrategy.HEADER
    host_main_domain: str = "localhost"
    default_tenant_name: str = "Default"
    default_tenant_subdomain: str = "default"
    tenant_cache_ttl_seconds: float = Field(default=5.0, ge=0)

    @field_validator("host_main_domain")
    @classmethod
    def _normalise_domain(cls, value: str) -> str:
        return value.strip().lower().split(":", 1)[0].rstrip(".")


class SmtpSettings(BaseSettings):
    """Outgoing mail. With no `SMTP_HOST`, development writes mail to `MAIL_OUTBOX_DIR`."""

    model_config = SettingsConfigDict(**_config("SMTP_"), populate_by_name=True)

    host: str | None = None
    port: int = 587
    user: str | None = None
    password: SecretStr | None = None
    from_address: str = Field(default="no-reply@example.com", validation_alias="SMTP_FROM")
    from_name: str | None = None
    starttls: bool = True
    ssl: bool = False
    validate_certs: bool = True
    timeout_seconds: int = Field(default=15, ge=1)


class MailSettings(BaseSettings):
    model_config = _config("MAIL_")

    outbox_dir: str = ".data/outbox"
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base of the links put in mail (password reset, verification, ...).",
    )


class JobSettings(BaseSettings):
    """Celery: broker, retries, limits. Queues and results default to the app's Redis."""

    model_config = _config()

    celery_broker_url: str | None = None
    celery_result_backend: str | None = None
    job_max_retries: int = Field(default=5, ge=0)
    job_retry_backoff_seconds: float = Field(default=2.0, gt=0)
    job_retry_backoff_max_seconds: float = Field(default=600.0, gt=0)
    job_time_limit_seconds: int = Field(default=300, ge=1)
    job_soft_time_limit_seconds: int = Field(default=270, ge=1)
    worker_prefetch_multiplier: int = Field(default=4, ge=1)
    broker_visibility_timeout_seconds: int = Field(default=3600, ge=60)
    job_result_expires_seconds: int = Field(default=86400, ge=60)
    failed_jobs_retention_days: int = Field(default=30, ge=1)
    heartbeat_interval_seconds: float = Field(default=30.0, gt=0)


class AiSettings(BaseSettings):
    """AI chat: providers (a provider is on when configured), context, timeouts."""

    model_config = _config()

    ollama_host: str | None = None  # e.g. http://127.0.0.1:11434; unset: no Ollama
    ollama_models: CsvList = Field(default_factory=list)  # offer only these (empty: all)
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None  # vLLM, LM Studio, llama.cpp: http://host:port/v1
    openai_models: CsvList = Field(default_factory=list)  # offer only these (empty: all)
    ai_default_model: str | None = None
    ai_system_prompt: str | None = None
    ai_context_max_turns: int = Field(default=10, ge=1, le=500)
    ai_context_max_tokens: int = Field(default=4000, ge=100)
    ai_max_message_chars: int = Field(default=32000, ge=1)
    ai_models_cache_seconds: float = Field(default=30.0, ge=0)
    ai_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    ai_first_token_timeout_seconds: float = Field(default=120.0, gt=0)
    ai_token_timeout_seconds: float = Field(default=60.0, gt=0)
    ai_keepalive_seconds: float = Field(default=15.0, gt=0)
    ai_start_grace_seconds: float = Field(default=3.0, ge=0)

    _csv = field_validator("ollama_models", "openai_models", mode="before")(_split_csv)

    @property
    def openai_enabled(self) -> bool:
        return self.openai_api_key is not None or self.openai_base_url is not None


DEFAULT_ALLOWED_CONTENT_TYPES = [
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain",
    "text/csv", "audio/mpeg", "audio/ogg", "video/mp4", "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
]  # fmt: skip


class StorageSettings(BaseSettings):
    """Where files go by default, upload limits, signed URLs, and provider credentials."""

    model_config = _config()

    storage_default_provider: str = Field(default="local", pattern="^(local|azure_blob|s3)$")
    local_storage_dir: str = ".data/blobs"
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    max_avatar_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    allowed_content_types: CsvList = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_CONTENT_TYPES)
    )
    signed_url_ttl_seconds: int = Field(default=300, ge=10, le=7 * 86400)

    _csv = field_validator("allowed_content_types", mode="before")(_split_csv)

    azure_storage_connection_string: SecretStr | None = None
    azure_storage_container: str = "parley"
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_s3_bucket: str | None = None
    aws_s3_region: str = "us-east-1"
    aws_s3_endpoint_url: str | None = None


class Settings(BaseSettings):
    """The whole configuration; build it with `load_settings()`."""

    model_config = _config()

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

    mongo: MongoSettings = Field(default_factory=MongoSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    tenancy: TenancySettings = Field(default_factory=TenancySettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    ai: AiSettings = Field(default_factory=AiSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def broker_url(self) -> str:
        return self.jobs.celery_broker_url or self.redis.resolved_url

    @property
    def result_backend_url(self) -> str:
        return self.jobs.celery_result_backend or self.broker_url

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
        if self.auth.jwt_algorithm == "RS256" and not (
            self.auth.jwt_private_key_file and self.auth.jwt_public_key_file
        ):
            raise ValueError("JWT_PRIVATE_KEY_FILE and JWT_PUBLIC_KEY_FILE are needed for RS256")
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
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise ConfigurationError(f"invalid configuration: {problems}") from None


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "__root__")
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where.upper()}: {message}" if where else message
