"""A tenant's inbox settings: how new conversations are assigned, how many an agent holds
at most, business hours and the out-of-hours auto-reply. One per tenant; a tenant that
never saved any has the defaults (no auto-assignment, always open, no auto-reply)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from api.domain.messaging.business_hours import BusinessHours

DEFAULT_AGENT_CAPACITY = 10
MAX_AGENT_CAPACITY = 1000
MAX_OUT_OF_HOURS_MESSAGE = 4096  # WhatsApp's text body limit


class AutoAssign(StrEnum):
    OFF = "off"
    ROUND_ROBIN = "round_robin"
    LEAST_BUSY = "least_busy"


class InboxSettings(BaseModel):
    """`agent_capacity`: the most unresolved conversations auto-assignment gives one agent
    (manual assignment is not limited). `business_hours` None: always open.
    `out_of_hours_message` None: no auto-reply."""

    model_config = ConfigDict(frozen=True)

    auto_assign: AutoAssign = AutoAssign.OFF
    agent_capacity: int = Field(default=DEFAULT_AGENT_CAPACITY, ge=1, le=MAX_AGENT_CAPACITY)
    business_hours: BusinessHours | None = None
    out_of_hours_message: str | None = Field(
        default=None, min_length=1, max_length=MAX_OUT_OF_HOURS_MESSAGE
    )
    updated_at: datetime | None = None


class InboxSettingsRepository(Protocol):
    """The current tenant's inbox settings."""

    async def get(self) -> InboxSettings | None:
        """The saved settings; None when the tenant never saved any."""
        ...

    async def put(self, settings: InboxSettings) -> InboxSettings:
        """Replace them (one document per tenant)."""
        ...
