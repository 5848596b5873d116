"""Bodies of `/api/v1/inbox/settings` and `/api/v1/inbox/presence`.

Times and time zones are checked by the use case (clear codes: `invalid_timezone`,
`invalid_time_span`, `overlapping_time_spans`), so the schemas only bound sizes here.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from api.domain.messaging.business_hours import (
    MAX_HOLIDAYS,
    MAX_SPANS_PER_DAY,
    BusinessHours,
    TimeSpan,
    Weekday,
)
from api.domain.messaging.inbox_settings import (
    DEFAULT_AGENT_CAPACITY,
    MAX_AGENT_CAPACITY,
    MAX_OUT_OF_HOURS_MESSAGE,
    AutoAssign,
    InboxSettings,
)
from api.domain.messaging.presence import AgentPresence, PresenceStatus
from api.usecases.messaging.presence import AgentStatus

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TimeSpanIn(BaseModel):
    model_config = _STRICT

    start: str = Field(max_length=5, examples=["09:00"], description="Local `HH:MM`.")
    end: str = Field(
        max_length=5,
        examples=["17:00"],
        description="Local `HH:MM` or `24:00`; earlier than `start`: runs past midnight.",
    )


class BusinessHoursIn(BaseModel):
    model_config = _STRICT

    timezone: str = Field(max_length=64, examples=["Europe/Berlin"], description="IANA zone.")
    days: dict[Weekday, list[TimeSpanIn]] = Field(
        default_factory=dict,
        description=f"Opening spans per weekday (at most {MAX_SPANS_PER_DAY}); a day not "
        "named is closed.",
        examples=[{"mon": [{"start": "09:00", "end": "17:00"}]}],
    )
    holidays: list[date] = Field(
        default_factory=list,
        max_length=MAX_HOLIDAYS,
        description="Local dates closed all day (spans starting on them do not open).",
    )

    def to_domain(self) -> BusinessHours:
        return BusinessHours(
            timezone=self.timezone,
            days={
                day: [TimeSpan(start=s.start, end=s.end) for s in spans]
                for day, spans in self.days.items()
            },
            holidays=self.holidays,
        )


class InboxSettingsIn(BaseModel):
    """The whole settings (a field left out takes its default)."""

    model_config = _STRICT

    auto_assign: AutoAssign = AutoAssign.OFF
    agent_capacity: int = Field(default=DEFAULT_AGENT_CAPACITY, ge=1, le=MAX_AGENT_CAPACITY)
    business_hours: BusinessHoursIn | None = Field(default=None, description="null: always open.")
    out_of_hours_message: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_OUT_OF_HOURS_MESSAGE,
        description="Sent once per conversation and closed period; null: no auto-reply.",
    )

    def to_domain(self) -> InboxSettings:
        return InboxSettings(
            auto_assign=self.auto_assign,
            agent_capacity=self.agent_capacity,
            business_hours=self.business_hours.to_domain() if self.business_hours else None,
            out_of_hours_message=self.out_of_hours_message,
        )


class BusinessHoursOut(BaseModel):
    timezone: str
    days: dict[Weekday, list[TimeSpan]]
    holidays: list[date]


class InboxSettingsOut(BaseModel):
    auto_assign: AutoAssign
    agent_capacity: int
    business_hours: BusinessHoursOut | None
    out_of_hours_message: str | None
    updated_at: datetime | None = Field(description="null: never saved (the defaults).")

    @classmethod
    def of(cls, settings: InboxSettings) -> InboxSettingsOut:
        return cls.model_validate(settings.model_dump())


class PresenceIn(BaseModel):
    model_config = _STRICT

    status: PresenceStatus


class PresenceOut(BaseModel):
    user_id: str
    status: PresenceStatus
    since: datetime
    expires_at: datetime | None = Field(
        description="When it reads offline unless refreshed; null for offline."
    )

    @classmethod
    def of(cls, presence: AgentPresence) -> PresenceOut:
        return cls.model_validate(presence.model_dump())


class AgentPresenceOut(BaseModel):
    user_id: str
    full_name: str
    email: str
    status: PresenceStatus
    since: datetime | None
    expires_at: datetime | None
    open_assigned: int = Field(description="Unresolved conversations assigned to the agent.")

    @classmethod
    def of(cls, agent: AgentStatus) -> AgentPresenceOut:
        return cls.model_validate(agent.model_dump())


class PresenceListOut(BaseModel):
    items: list[AgentPresenceOut]
