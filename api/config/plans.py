"""Plans and limits: the default plan and when owners are warned."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from api.config.base import env_config


class PlanSettings(BaseSettings):
    model_config = env_config()

    default_plan: str | None = Field(
        default=None,
        description=(
            "The name or id of the plan tenants without one are on, when no plan is "
            "flagged default (unset: such tenants are unlimited)."
        ),
    )
    plan_warn_percent: int = Field(
        default=80, ge=1, le=100, description="Owners are emailed once a period past this."
    )
    plan_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description=(
            "How long a process keeps the plans every limited action reads (the default "
            "plan, a tenant's own); a change applies at once on the process that made it, "
            "on the others within this (0: off)."
        ),
    )
    platform_analytics_max_days: int = Field(
        default=366, ge=1, le=3660, description="The longest range platform analytics answer."
    )

    @field_validator("default_plan")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None
