"""The tenant dashboard as the API answers it: every local day of the window listed (zero
when nothing happened), totals beside them."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from pydantic import BaseModel, Field

from api.domain.analytics.dashboard import (
    AgentLoad,
    CampaignPerformance,
    CrmFigures,
    Dashboard,
    DayCount,
    Durations,
    MessageCount,
)
from api.usecases.analytics.get_dashboard import DashboardAnswer


class DirectionCountsOut(BaseModel):
    total: int
    by_status: dict[str, int] = Field(
        description="Messages by their current status (only the statuses that occur)."
    )

    @classmethod
    def of(cls, counts: list[MessageCount]) -> DirectionCountsOut:
        by_status: dict[str, int] = defaultdict(int)
        for count in counts:
            by_status[count.status] += count.count
        return cls(total=sum(by_status.values()), by_status=dict(sorted(by_status.items())))


class MessagesDayOut(BaseModel):
    day: str = Field(description="A local day of the tenant (`YYYY-MM-DD`).")
    inbound: DirectionCountsOut
    outbound: DirectionCountsOut


class MessagesOut(BaseModel):
    inbound: DirectionCountsOut
    outbound: DirectionCountsOut
    by_day: list[MessagesDayOut]

    @classmethod
    def of(cls, days: list[str], counts: list[MessageCount]) -> MessagesOut:
        def pick(direction: str, day: str | None = None) -> DirectionCountsOut:
            return DirectionCountsOut.of(
                [c for c in counts if c.direction == direction and day in (None, c.day)]
            )

        return cls(
            inbound=pick("inbound"),
            outbound=pick("outbound"),
            by_day=[
                MessagesDayOut(day=d, inbound=pick("inbound", d), outbound=pick("outbound", d))
                for d in days
            ],
        )


class ConversationsDayOut(BaseModel):
    day: str
    opened: int
    resolved: int


class DurationsOut(BaseModel):
    count: int = Field(description="Conversations measured.")
    median_seconds: float | None
    p90_seconds: float | None

    @classmethod
    def of(cls, durations: Durations) -> DurationsOut:
        return cls.model_validate(durations.model_dump())


class ConversationsOut(BaseModel):
    opened: int
    resolved: int
    by_day: list[ConversationsDayOut]
    first_response: DurationsOut = Field(
        description=(
            "From the customer's first message to the first agent reply after it, over "
            "the conversations first answered in the window."
        )
    )
    resolution: DurationsOut = Field(
        description="From opened to resolved, over the conversations resolved in the window."
    )


class AgentLoadOut(BaseModel):
    agent_id: str
    open_assigned: int = Field(description="Unresolved conversations assigned to them now.")
    resolved: int = Field(description="Conversations they resolved in the window.")
    messages_sent: int = Field(description="Messages they sent in the window (no notes).")

    @classmethod
    def of(cls, load: AgentLoad) -> AgentLoadOut:
        return cls.model_validate(load.model_dump())


class CampaignPerformanceOut(BaseModel):
    campaign_id: str
    name: str | None
    recipients: int = Field(description="Recipients whose state changed in the window.")
    sent: int = Field(description="Sent, delivered or read.")
    delivered: int = Field(description="Delivered or read.")
    read: int
    failed: int
    delivery_rate: float | None = Field(description="delivered / sent (null: none sent).")
    read_rate: float | None = Field(description="read / delivered (null: none delivered).")

    @classmethod
    def of(cls, campaign: CampaignPerformance) -> CampaignPerformanceOut:
        return cls.model_validate(campaign.model_dump())


class DashboardMoneyOut(BaseModel):
    currency: str = Field(description="ISO 4217.")
    value: str = Field(description="A decimal string in the currency's units, e.g. `1234.50`.")


class DashboardPipelineStageOut(BaseModel):
    stage: str
    count: int = Field(description="Leads at this stage now.")
    values: list[DashboardMoneyOut] = Field(description="Their value, per currency.")


class DashboardTicketsOut(BaseModel):
    open: int = Field(description="Tickets open, pending or on hold now.")
    open_breached: int = Field(description="Of those, the ones that breached an SLA target.")
    first_response_breaches: int = Field(
        description="First-response targets breached in the window."
    )
    resolution_breaches: int = Field(description="Resolution targets breached in the window.")


class DashboardMeetingsOut(BaseModel):
    completed: int = Field(description="Meetings that started in the window, completed.")
    no_show: int = Field(description="Meetings that started in the window, marked no-show.")
    show_rate: float | None = Field(
        description="completed / (completed + no_show) (null: none marked)."
    )


class DashboardCrmOut(BaseModel):
    pipeline: list[DashboardPipelineStageOut] = Field(description="Every stage, in pipeline order.")
    tickets: DashboardTicketsOut
    meetings: DashboardMeetingsOut

    @classmethod
    def of(cls, crm: CrmFigures) -> DashboardCrmOut:
        return cls.model_validate(crm.model_dump())


def _per_day(days: list[str], counts: list[DayCount]) -> dict[str, int]:
    found = {c.day: c.count for c in counts}
    return {d: found.get(d, 0) for d in days}


class DashboardOut(BaseModel):
    since: datetime
    until: datetime = Field(description="The window is `[since, until)`.")
    timezone: str = Field(description="The tenant's time zone, whose days bucket the figures.")
    computed_at: datetime
    cached: bool = Field(description="True when served from the cache (see `computed_at`).")
    messages: MessagesOut
    conversations: ConversationsOut
    agents: list[AgentLoadOut]
    campaigns: list[CampaignPerformanceOut]
    crm: DashboardCrmOut = Field(
        description=(
            "The CRM: the lead pipeline now, ticket SLA breaches and the meetings' show "
            "rate (a caller limited to departments sees their departments' figures)."
        )
    )

    @classmethod
    def of(cls, answer: DashboardAnswer) -> DashboardOut:
        d: Dashboard = answer.dashboard
        opened = _per_day(d.days, d.conversations.opened)
        resolved = _per_day(d.days, d.conversations.resolved)
        return cls(
            since=d.window.since, until=d.window.until, timezone=d.window.timezone,
            computed_at=d.computed_at, cached=answer.cached,
            messages=MessagesOut.of(d.days, d.messages),
            conversations=ConversationsOut(
                opened=sum(c.count for c in d.conversations.opened),
                resolved=sum(c.count for c in d.conversations.resolved),
                by_day=[ConversationsDayOut(day=day, opened=opened[day], resolved=resolved[day])
                        for day in d.days],
                first_response=DurationsOut.of(d.conversations.first_response),
                resolution=DurationsOut.of(d.conversations.resolution),
            ),
            agents=[AgentLoadOut.of(a) for a in d.agents],
            campaigns=[CampaignPerformanceOut.of(c) for c in d.campaigns],
            crm=DashboardCrmOut.of(d.crm),
        )  # fmt: skip
