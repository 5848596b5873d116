"""Monitoring: who may read the Prometheus `/metrics`, and how long a scrape may wait.

The rule: `/metrics` is served when `METRICS_TOKEN` is set (then every scrape must send
`Authorization: Bearer <token>`) or outside production (then it is open, for development).
In production without a token it is not served at all (404).
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from api.config.base import env_config


class MetricsSettings(BaseSettings):
    model_config = env_config()

    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token a scrape of /metrics must send."
    )
    metrics_read_timeout_seconds: float = Field(
        default=1.0,
        gt=0,
        le=30,
        description="How long a scrape waits for the job counters and queue depths in Redis.",
    )
