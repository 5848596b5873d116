"""Contact imports (`IMPORT_*`): the largest file, rows per chunk, the job's leases."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from api.config.base import env_config


class ImportSettings(BaseSettings):
    """`IMPORT_*`: contact imports (`POST /api/v1/contacts/imports`)."""

    model_config = env_config("IMPORT_")

    max_bytes: int = Field(
        default=50 * 1024 * 1024,
        ge=1024,
        description="Largest CSV or XLSX file an import takes (413 above it).",
    )
    batch_size: int = Field(
        default=500,
        ge=1,
        le=5000,
        description="Rows read, checked and written together (one bulk write per chunk).",
    )
    lease_seconds: int = Field(
        default=120,
        ge=2,
        le=3600,
        description=(
            "A running import whose worker made no progress this long (it died) is taken "
            "over by the sweeper's next job."
        ),
    )
    run_seconds: float = Field(
        default=240,
        gt=0,
        description=(
            "One job run goes on this long at most, then hands over to a fresh job (keep it "
            "under JOB_TIME_LIMIT_SECONDS)."
        ),
    )
    max_attempts: int = Field(
        default=50,
        ge=1,
        description="Runs an import gets (hand-overs and crashed runs count) before it fails.",
    )
    sweep_interval_seconds: float = Field(
        default=60, gt=0, description="How often beat queues the imports nobody is moving."
    )
