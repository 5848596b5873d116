"""Email: the SMTP server (`SMTP_*`) and the mail Parley writes (`MAIL_*`)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.config.base import env_config


class SmtpSettings(BaseSettings):
    """Outgoing mail. With no `SMTP_HOST`, development writes mail to `MAIL_OUTBOX_DIR`."""

    model_config = SettingsConfigDict(**env_config("SMTP_"), populate_by_name=True)

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
    model_config = env_config("MAIL_")

    outbox_dir: str = ".data/outbox"
    # The base of the links in mail is `PUBLIC_BASE_URL` (api/config/server.py), which
    # also reads the old name MAIL_PUBLIC_BASE_URL.
