"""`CAMPAIGN_*` settings of the campaign send engine: its slices, claims, batches, the
requests it keeps in flight, its sweep and the burst its rate bucket allows."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from api.config.base import env_config


class CampaignSendSettings(BaseSettings):
    """How the send job works through a run (see `SendCampaignRun`)."""

    model_config = env_config("CAMPAIGN_")

    slice_seconds: float = Field(
        default=60,
        gt=0,
        le=3600,
        description=(
            "The send job claims new rows for at most this long, then hands the run to a "
            "fresh job (keep it well under JOB_TIME_LIMIT_SECONDS minus the provider timeout)."
        ),
    )
    claim_seconds: float = Field(
        default=120,
        gt=0,
        le=3600,
        description=(
            "How long a claimed row (and the run's lease) lasts without news from its worker; "
            "then the sweep settles the row (`outcome_unknown`) and re-queues the run. Raised "
            "to WHATSAPP_TIMEOUT_SECONDS + 10 when lower: a row must never be settled while "
            "its request may still be answered."
        ),
    )
    batch_size: int = Field(
        default=200, ge=1, le=1000, description="Most rows claimed (and recorded) at once."
    )
    max_in_flight: int = Field(
        default=200,
        ge=1,
        le=2000,
        description=(
            "Rows one send job holds at once, from their claim until their outcomes are "
            "recorded (their provider requests among them); rows are claimed only when a "
            "slot is free for them, so a slow database slows the claims."
        ),
    )
    sweep_interval_seconds: float = Field(
        default=30,
        gt=0,
        description=(
            "How often beat re-queues runs whose send job died and settles their expired claims."
        ),
    )
    burst_seconds: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description=(
            "The campaign's own rate bucket holds this many seconds of its rate (at least "
            "one message): the most it sends in a burst above its rate."
        ),
    )
    max_attempts: int = Field(
        default=5,
        ge=1,
        le=50,
        description=(
            "Tries of one recipient refused with a throughput limit (130429, 131056) or "
            "a provider error that was surely not sent; then it fails with the code."
        ),
    )
