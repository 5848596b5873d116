"""`CAMPAIGN_*` settings of the campaigns' scheduling: how often beat fires the due ones."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from api.config.base import env_config


class CampaignSettings(BaseSettings):
    """The dispatcher (see `DispatchDueCampaigns`)."""

    model_config = env_config("CAMPAIGN_")

    dispatch_interval_seconds: float = Field(
        default=30,
        gt=0,
        le=3600,
        description=(
            "How often beat launches the scheduled campaigns whose time has come (a run "
            "starts at most this late)."
        ),
    )
