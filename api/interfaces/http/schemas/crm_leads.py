"""Leads and lead imports as the API shows them (API.md's CRM section)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.domain.crm.lead_imports import (
    LeadImport,
    LeadImportStatus,
    LeadRowOutcome,
    LeadRowResult,
)
from api.domain.crm.leads import Lead, LeadChange, LeadStage
from api.domain.imports import ImportFormat
from api.usecases.crm.lead_rules import LeadFields, shown_value

CURSOR_NOTE = "`null` on the last page; else pass it as `cursor` for the next one."
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Amount = Annotated[
    str,
    Field(
        max_length=40,
        description='A decimal string (`"1234.50"`), never a number: at most the '
        "currency's decimals (JPY 0, EUR 2, KWD 3), not negative.",
        examples=["1234.50"],
    ),
]
Currency = Annotated[
    str, Field(min_length=3, max_length=3, description="ISO 4217 code", examples=["EUR"])
]


class _LeadBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=1000)
    value: Amount | None = None
    currency: Currency | None = None
    stage: LeadStage | None = None
    source: str | None = Field(default=None, max_length=200)
    owner_id: Id | None = None
    department_id: Id | None = None
    notes: str | None = Field(default=None, max_length=20_000)

    def fields(self) -> LeadFields:
        return LeadFields(**self.model_dump(exclude_unset=True))


class LeadIn(_LeadBody):
    contact_id: Id
    title: str = Field(max_length=1000)


class LeadFromConversationIn(_LeadBody):
    """Every field optional: the title defaults to "Conversation with <name>"."""


class LeadUpdateIn(_LeadBody):
    contact_id: Id | None = None


class LeadChangeOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    at: datetime
    actor_id: str | None = Field(description="Who made the change (null: the system)")
    field: str = Field(description="The field (`value` is the amount with its currency)")
    from_: str | None = Field(alias="from", description="The value before, as text")
    to: str | None = Field(description="The value after, as text")

    @classmethod
    def of(cls, change: LeadChange) -> LeadChangeOut:
        return cls(at=change.at, actor_id=change.actor_id, field=change.field,
                   from_=change.from_value, to=change.to_value)  # fmt: skip


class LeadOut(BaseModel):
    id: str
    contact_id: str
    title: str
    value: str | None = Field(description="Decimal string in the currency's decimals")
    currency: str | None
    stage: LeadStage
    source: str
    owner_id: str | None
    department_id: str | None
    conversation_id: str | None = Field(description="The conversation it was made from")
    notes: str | None
    history: list[LeadChangeOut] = Field(description="Every change, oldest first (last 200)")
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, lead: Lead) -> LeadOut:
        assert lead.id is not None  # noqa: S101 - stored
        return cls(
            id=lead.id, contact_id=lead.contact_id, title=lead.title,
            value=shown_value(lead.value_minor, lead.currency), currency=lead.currency,
            stage=lead.stage, source=lead.source, owner_id=lead.owner_id,
            department_id=lead.department_id, conversation_id=lead.conversation_id,
            notes=lead.notes, history=[LeadChangeOut.of(c) for c in lead.history],
            created_by=lead.created_by, created_at=lead.created_at, updated_at=lead.updated_at,
        )  # fmt: skip


class LeadPageOut(BaseModel):
    items: list[LeadOut]
    next_cursor: str | None = Field(description=CURSOR_NOTE)


class LeadRowOut(BaseModel):
    row: int = Field(description="The spreadsheet's row number (the header is row 1)")
    outcome: LeadRowOutcome
    lead_id: str | None = None
    column: str | None = None
    reason: str | None = None

    @classmethod
    def of(cls, result: LeadRowResult) -> LeadRowOut:
        return cls(**result.model_dump())


class LeadImportOut(BaseModel):
    id: str
    status: LeadImportStatus = Field(description="`queued`, `running`, `done` or `failed`")
    filename: str
    format: ImportFormat
    total_rows: int = Field(description="Rows after the header")
    processed_rows: int = Field(description="Rows settled so far (each has its result)")
    created: int
    skipped: int = Field(description="Blank rows")
    failed: int
    error: str | None = Field(description="Why a `failed` import could not go on")
    rows: list[LeadRowOut] = Field(description="Every settled row's result (empty in lists)")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, lead_import: LeadImport) -> LeadImportOut:
        assert lead_import.id is not None  # noqa: S101 - stored
        return cls(
            rows=[LeadRowOut.of(r) for r in lead_import.rows],
            **lead_import.model_dump(include={
                "id", "status", "filename", "format", "total_rows", "processed_rows",
                "created", "skipped", "failed", "error", "created_at", "started_at",
                "finished_at",
            }),
        )  # fmt: skip


class LeadImportPageOut(BaseModel):
    items: list[LeadImportOut]
    next_cursor: str | None = Field(description=CURSOR_NOTE)
