"""The tenant dashboard: what its figures are, and the ports they are read through.

A window is `[since, until)` (aware UTC instants); days are the tenant's local days
(`YYYY-MM-DD` in its time zone). Figures count events in the window: a message by its
`created_at`, a conversation opened by its `created_at` and resolved by its
`resolved_at`; response and resolution times belong to the window their end falls in.
Private notes are never messages here. Durations are in seconds; percentiles are
nearest-rank (the value at rank `ceil(p * n)` of the sorted durations).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from api.domain.errors import InvalidInput


class Window(BaseModel):
    """`[since, until)` and the time zone whose days bucket it."""

    model_config = ConfigDict(frozen=True)

    since: datetime
    until: datetime
    timezone: str


class MessageCount(BaseModel):
    """Messages of one local day, direction and status."""

    model_config = ConfigDict(frozen=True)

    day: str
    direction: str
    status: str
    count: int


class DayCount(BaseModel):
    model_config = ConfigDict(frozen=True)

    day: str
    count: int


class Durations(BaseModel):
    """How many durations were measured, and their median and 90th percentile (seconds;
    None when none were)."""

    model_config = ConfigDict(frozen=True)

    count: int = 0
    median_seconds: float | None = None
    p90_seconds: float | None = None


class AgentLoad(BaseModel):
    """One agent: unresolved conversations assigned now, conversations they resolved and
    messages they sent (private notes aside) in the window."""

    model_config = ConfigDict(frozen=True)

    agent_id: str
    open_assigned: int = 0
    resolved: int = 0
    messages_sent: int = 0


class CampaignPerformance(BaseModel):
    """One campaign's recipients whose state last changed in the window, by how far they
    got: `sent` counts sent, delivered and read; `delivered` delivered and read.
    `delivery_rate` is delivered / sent, `read_rate` read / delivered (None over zero)."""

    model_config = ConfigDict(frozen=True)

    campaign_id: str
    name: str | None = None
    recipients: int
    sent: int
    delivered: int
    read: int
    failed: int
    delivery_rate: float | None = None
    read_rate: float | None = None


class ConversationFigures(BaseModel):
    model_config = ConfigDict(frozen=True)

    opened: list[DayCount] = Field(default_factory=list)  # sparse: days with any
    resolved: list[DayCount] = Field(default_factory=list)
    first_response: Durations = Durations()
    resolution: Durations = Durations()


class MoneyTotal(BaseModel):
    """A sum in one currency, as a decimal string (`"1234.50"`)."""

    model_config = ConfigDict(frozen=True)

    currency: str
    value: str


class PipelineStage(BaseModel):
    """The leads at one stage now, and their value per currency (leads without a value
    count, and add nothing)."""

    model_config = ConfigDict(frozen=True)

    stage: str
    count: int = 0
    values: list[MoneyTotal] = Field(default_factory=list)


class TicketSla(BaseModel):
    """Tickets open now (open, pending, on hold) and how many of them breached a target;
    breaches that happened in the window, by target."""

    model_config = ConfigDict(frozen=True)

    open: int = 0
    open_breached: int = 0
    first_response_breaches: int = 0
    resolution_breaches: int = 0


class MeetingAttendance(BaseModel):
    """Meetings that started in the window and were marked: `show_rate` is completed /
    (completed + no-show), None when none was marked."""

    model_config = ConfigDict(frozen=True)

    completed: int = 0
    no_show: int = 0
    show_rate: float | None = None


class CrmFigures(BaseModel):
    model_config = ConfigDict(frozen=True)

    pipeline: list[PipelineStage] = Field(default_factory=list)
    tickets: TicketSla = TicketSla()
    meetings: MeetingAttendance = MeetingAttendance()


class Dashboard(BaseModel):
    """The whole answer, as computed (and cached) at `computed_at`."""

    window: Window
    computed_at: datetime
    days: list[str]
    messages: list[MessageCount]
    conversations: ConversationFigures
    agents: list[AgentLoad]
    campaigns: list[CampaignPerformance]
    crm: CrmFigures = CrmFigures()


class InboxFigures(Protocol):
    """The current tenant's inbox figures, computed where the data lives."""

    async def messages(self, window: Window) -> list[MessageCount]:
        """Non-private messages created in the window, by local day, direction, status."""
        ...

    async def conversations(self, window: Window) -> ConversationFigures:
        """Conversations opened and resolved per local day; first response times (first
        inbound message to the first agent reply after it) and resolution times (opened
        to resolved)."""
        ...

    async def agents(self, window: Window) -> list[AgentLoad]:
        """Every agent with unresolved conversations assigned now, or conversations
        resolved or messages sent in the window; ordered by agent id."""
        ...


class CampaignPerformanceSource(Protocol):
    """Campaigns' delivery figures of the current tenant."""

    async def performance(self, since: datetime, until: datetime) -> list[CampaignPerformance]:
        """One row per campaign with recipients whose state changed in `[since, until)`."""
        ...


class CrmFiguresSource(Protocol):
    """The CRM's figures of the current tenant (within the caller's department scope)."""

    async def figures(self, window: Window) -> CrmFigures:
        """The pipeline now, ticket SLA breaches (open now; happened in the window) and
        the show rate of meetings that started in the window."""
        ...


class TenantTimeZone(Protocol):
    """The current tenant's IANA time zone (its company profile; UTC by default)."""

    async def name(self) -> str: ...


class DashboardCache(Protocol):
    """Recent answers of the current tenant, by key; a cache that fails is a miss."""

    async def get(self, key: str) -> Dashboard | None: ...

    async def put(self, key: str, dashboard: Dashboard, seconds: int) -> None: ...


class InvalidWindow(InvalidInput):
    """`until` is not after `since`."""

    code = "invalid_window"
    title = "Invalid window"


class WindowTooLong(InvalidInput):
    """The window spans more days than a dashboard reads at once."""

    code = "window_too_long"
    title = "Window too long"
