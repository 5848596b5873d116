"""Background jobs: Celery's broker, retries and limits."""

from __future__ import annotations

from pydantic import Field, model_validator
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
    # The threads of a worker process (`--concurrency`, as scripts/serve and
    # docker-compose.yml start it): also how many sends' `sent` records it stores at once
    # after their threads were let go (`SentRecords`).
    worker_concurrency: int = Field(default=8, ge=1)
    broker_visibility_timeout_seconds: int = Field(default=3600, ge=60)
    job_result_expires_seconds: int = Field(default=86400, ge=60)
    failed_jobs_retention_days: int = Field(default=30, ge=1)
    heartbeat_interval_seconds: float = Field(default=30.0, gt=0)
    # beat (celery-redbeat): the schedule and a lock live in Redis; the beat holding the
    # lock sends the periodic jobs, any other waits for it. The longest beat sleeps between
    # two looks at the schedule (also how often a standby tries the lock):
    beat_max_interval_seconds: float = Field(default=5.0, gt=0, le=300)
    # The lock expires this long after its holder last renewed it (a beat that died
    # without releasing it): a standby takes over within it plus the interval above.
    beat_lock_timeout_seconds: int = Field(default=30, ge=2)
    # The Redis keys of the schedule and the lock start with this (unset:
    # `parley:<MONGO_DB_NAME>:beat:`): one per deployment sharing a Redis.
    beat_key_prefix: str | None = None

    @model_validator(mode="after")
    def check_beat_lock(self) -> JobSettings:
        if self.beat_lock_timeout_seconds < 2 * self.beat_max_interval_seconds:
            raise ValueError(
                "BEAT_LOCK_TIMEOUT_SECONDS must be at least twice BEAT_MAX_INTERVAL_SECONDS "
                "(the lock is renewed once per interval)"
            )
        return self
