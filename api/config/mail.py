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
    # A delivery run holds its email this long (and gives up on the SMTP conversation
    # after half of it): a run that dies leaves the email to the sweep once it runs out.
    send_lease_seconds: float = Field(default=120, ge=2, le=3600)
    sweep_interval_seconds: float = Field(default=60, gt=0)
    # A queued email no run holds this long after it was created is queued again.
    sweep_after_seconds: float = Field(default=300, ge=1)
    sweep_batch: int = Field(default=500, ge=1, le=10_000)
    # Emails at the SMTP server at once, across every worker (0: no cap): a server that
    # hangs holds at most this many worker threads (keep it below WORKER_CONCURRENCY); a
    # run finding them all taken is queued again after MAIL_BUSY_RETRY_SECONDS.
    max_in_flight: int = Field(default=4, ge=0, le=1000)
    busy_retry_seconds: float = Field(default=5.0, gt=0, le=300)
    # The base of the links in mail is `PUBLIC_BASE_URL` (api/config/server.py), which
    # also reads the old name MAIL_PUBLIC_BASE_URL.
