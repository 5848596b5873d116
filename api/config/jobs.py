"""Background jobs: Celery's broker, retries and limits."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from api.config.base import env_config


class JobSettings(BaseSettings):
    """Celery: broker, retries, limits. Queues and results default to the app's Redis."""

    model_config = env_config()

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
