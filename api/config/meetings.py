"""`MEETING_*` settings of the CRM's meeting reminders: how often beat sends the due ones,
how many per run, and how long a claimed reminder is held."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from api.config.base import env_config


class MeetingSettings(BaseSettings):
    """The reminder job (see `SendDueMeetingReminders`)."""

    model_config = env_config("MEETING_")

    reminder_interval_seconds: float = Field(
        default=60,
        gt=0,
        le=3600,
        description="How often beat sends the meeting reminders that are due (at most this late).",
    )
    reminder_batch: int = Field(
        default=200, ge=1, le=5000, description="Reminders one run of the job takes at most."
    )
    reminder_lease_seconds: float = Field(
        default=600,
        ge=30,
        le=86400,
        description=(
            "How long a claimed reminder is held before a crashed sender lets another run "
            "take it (at least JOB_TIME_LIMIT_SECONDS + 30)."
        ),
    )
