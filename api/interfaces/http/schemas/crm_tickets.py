"""CRM tickets: what clients send and read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.domain.crm.tickets import (
    MAX_COMMENT,
    MAX_DESCRIPTION,
    MAX_SUBJECT,
    Ticket,
    TicketComment,
    TicketPage,
    TicketPriority,
    TicketStatus,
)
from api.usecases.crm.ticket_stats import TicketStats

Id = Annotated[str, Field(min_length=1, max_length=64)]
CURSOR_NOTE = "`null` on the last page; else pass it as `cursor` for the next one."


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: Id = Field(description="One of the tenant's contacts.")
    conversation_id: Id | None = Field(
        default=None, description="A conversation of that contact, if the ticket comes from one."
    )
    subject: str = Field(min_length=1, max_length=MAX_SUBJECT)
    description: str | None = Field(default=None, min_length=1, max_length=MAX_DESCRIPTION)
    priority: TicketPriority = TicketPriority.NORMAL
    assignee_id: Id | None = Field(default=None, description="An active user of the tenant.")
    department_id: Id | None = Field(
        default=None, description="Routes the ticket; its SLA targets and hours set the timers."
    )


class TicketUpdateIn(BaseModel):
    """Only the fields sent change; `null` clears `description`, `assignee_id` and
    `department_id`."""

    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, min_length=1, max_length=MAX_SUBJECT)
    description: str | None = Field(default=None, min_length=1, max_length=MAX_DESCRIPTION)
    priority: TicketPriority | None = None
    status: TicketStatus | None = None
    assignee_id: Id | None = None
    department_id: Id | None = None

    @model_validator(mode="after")
    def _no_null_for_required(self) -> TicketUpdateIn:
        nulls = [f for f in ("subject", "priority", "status")
                 if f in self.model_fields_set and getattr(self, f) is None]  # fmt: skip
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return self


class TicketCommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=MAX_COMMENT)
    public: bool = Field(
        description="A reply to the customer (the first one is the first response), or an "
        "internal note (`false`)."
    )


class TicketSlaOut(BaseModel):
    first_response_due: datetime | None = Field(description="null: no target, or stopped")
    resolution_due: datetime | None = Field(
        description="null: no target, or paused (pending, on hold) or stopped"
    )
    resolution_paused: bool = Field(description="The resolution timer is paused.")
    breached: bool
    first_response_breached_at: datetime | None
    resolution_breached_at: datetime | None


class TicketOut(BaseModel):
    id: str
    number: int
    contact_id: str
    conversation_id: str | None
    subject: str
    description: str | None
    priority: TicketPriority
    status: TicketStatus
    assignee_id: str | None
    department_id: str | None
    sla: TicketSlaOut
    first_responded_at: datetime | None
    resolved_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, ticket: Ticket) -> TicketOut:
        sla = ticket.sla
        return cls(
            **ticket.model_dump(
                include={"id", "number", "contact_id", "conversation_id", "subject",
                         "description", "priority", "status", "assignee_id", "department_id",
                         "first_responded_at", "resolved_at", "created_at", "updated_at"}
            ),
            sla=TicketSlaOut(
                first_response_due=sla.first_response_due, resolution_due=sla.resolution_due,
                resolution_paused=sla.resolution_paused_minutes is not None,
                breached=sla.breached,
                first_response_breached_at=sla.first_response_breached_at,
                resolution_breached_at=sla.resolution_breached_at,
            ),
        )  # fmt: skip


class TicketPageOut(BaseModel):
    items: list[TicketOut]
    next_cursor: str | None = Field(description=CURSOR_NOTE)

    @classmethod
    def of(cls, page: TicketPage) -> TicketPageOut:
        return cls(items=[TicketOut.of(t) for t in page.items], next_cursor=page.next_cursor)


class TicketCommentOut(BaseModel):
    id: str
    author_id: str
    body: str
    public: bool
    created_at: datetime

    @classmethod
    def of(cls, comment: TicketComment) -> TicketCommentOut:
        return cls.model_validate(comment.model_dump())


class TicketCommentsOut(BaseModel):
    items: list[TicketCommentOut]


class TicketStatsOut(BaseModel):
    since: datetime
    until: datetime
    open_by_priority: dict[TicketPriority, int] = Field(
        description="Unresolved tickets (open, pending, on hold) per priority, now."
    )
    open_breached: int = Field(description="Unresolved tickets with a breach recorded.")
    first_response_breaches: int = Field(description="First response breaches due in the range.")
    resolution_breaches: int = Field(description="Resolution breaches due in the range.")
    median_first_response_minutes: float | None = Field(
        description="Over the tickets opened in the range that had a first response."
    )
    median_resolution_minutes: float | None = Field(
        description="Over the tickets resolved (solved or closed) in the range."
    )

    @classmethod
    def of(cls, stats: TicketStats) -> TicketStatsOut:
        return cls.model_validate(stats.model_dump())
