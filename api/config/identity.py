"""Identity: the secrets and CORS (`SecuritySettings`), and tokens, passwords, MFA,
abuse limits and audit retention (`AuthSettings`)."""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings

from api.config.base import DEV_SECRET_PREFIX, CsvList, env_config, split_csv


class SecuritySettings(BaseSettings):
    model_config = env_config()

    jwt_secret: SecretStr = SecretStr(DEV_SECRET_PREFIX + "jwt-secret-change-me-000000000000")
    refresh_token_secret: SecretStr = SecretStr(
        DEV_SECRET_PREFIX + "refresh-secret-change-me-000000000"
    )
    admin_email: str = "admin@example.com"
    admin_password: SecretStr = SecretStr(DEV_SECRET_PREFIX + "admin-password")
    cors_origins: CsvList = Field(default_factory=list)
    cors_allow_credentials: bool = True

    _csv = field_validator("cors_origins", mode="before")(split_csv)


class AuthSettings(BaseSettings):
    """Tokens, passwords, MFA, abuse limits and the audit log's retention."""

    model_config = env_config()

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
    # New passwords checked against Have I Been Pwned's range API (k-anonymity: only the
    # first 5 hex characters of the password's SHA-1 leave): `hibp` or `off`; unset, `hibp`
    # in production and `off` elsewhere.
    breached_password_check: Literal["hibp", "off"] | None = None
    breached_password_api_url: str = Field(
        default="https://api.pwnedpasswords.com", pattern="^https?://"
    )
    breached_password_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost: int = Field(default=65536, ge=1024)  # KiB
    argon2_parallelism: int = Field(default=4, ge=1)
    password_reset_ttl_minutes: int = Field(default=30, ge=5)
    email_verification_ttl_hours: int = Field(default=48, ge=1)
    invitation_ttl_hours: int = Field(default=72, ge=1)
    encryption_key: SecretStr | None = None  # Fernet key for secrets at rest
    # Keys used before (comma-separated): still read, never written (a key rotation).
    encryption_previous_keys: SecretStr | None = None
    login_rate_per_ip: int = Field(default=30, ge=1)  # per minute
    login_rate_per_account: int = Field(default=10, ge=1)  # per minute
    sensitive_rate_per_ip: int = Field(default=10, ge=1)  # refresh/forgot/MFA, per minute
    lockout_threshold: int = Field(default=5, ge=1)  # failures before lockout
    lockout_minutes: int = Field(default=15, ge=1)
    # Requests one API key may make per minute (every replica together); then 429.
    api_key_rate_limit_per_minute: int = Field(default=600, ge=1, le=1_000_000)
    audit_retention_days: int = Field(default=365, ge=1)

    @field_validator("encryption_key", "encryption_previous_keys")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None:
            return None
        for key in value.get_secret_value().split(","):
            try:
                raw = base64.urlsafe_b64decode(key.strip().encode())
            except (ValueError, binascii.Error):
                raw = b""
            if len(raw) != 32:
                raise ValueError(
                    f"{str(info.field_name).upper()} must hold Fernet keys (32 url-safe "
                    "base64-encoded bytes each)"
                )
        return value
