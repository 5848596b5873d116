"""Contacts and segments as the API shows them (API.md's shapes) and takes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.domain.messaging.contact_exports import ExportStatus
from api.domain.messaging.contacts import (
    ConsentSource,
    Contact,
    ContactPage,
    ContactSource,
    ContactStats,
    SegmentFilter,
)
from api.domain.messaging.segments import Segment
from api.usecases.messaging.export_contacts import ExportView
from api.usecases.messaging.manage_contacts import ContactChanges, NewContact
from api.usecases.messaging.manage_segments import (
    SegmentChanges,
    SegmentInput,
    SegmentPreview,
)

CURSOR_NOTE = "`null` on the last page; else pass it as `cursor` for the next one."


class ContactIn(NewContact):
    """A new contact: a phone number (international, or national in the company
    profile's `default_country`) or an email address at least."""


class ContactPatchIn(ContactChanges):
    """Only the fields sent change; null clears one. `attributes` merge (null removes a
    key); `tags` replace the list."""


class ConsentIn(BaseModel):
    source: ConsentSource = Field(
        default=ConsentSource.MANUAL, description="`manual` (default) or `api`."
    )


class ContactOut(BaseModel):
    id: str
    name: str | None
    phone: str | None = Field(description="E.164; unique in the tenant")
    wa_id: str | None = Field(description="WhatsApp id (the number's digits) once seen")
    bsuid: str | None = Field(description="WhatsApp's business-scoped user id once seen")
    username: str | None
    email: str | None
    language: str | None
    attributes: dict[str, Any]
    tags: list[str]
    opted_out: bool
    opted_out_at: datetime | None
    opt_out_source: str | None = Field(
        description="`manual`, `api`, `keyword`, `provider` or `import`"
    )
    opted_in_at: datetime | None
    opt_in_source: str | None
    source: ContactSource
    channel_id: str | None = Field(description="The channel the customer last wrote on")
    last_inbound_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, contact: Contact) -> ContactOut:
        return cls(**contact.model_dump(exclude={"tenant_id", "deleted_at"}))


class ContactPageOut(BaseModel):
    items: list[ContactOut]
    next_cursor: str | None = Field(description=CURSOR_NOTE)

    @classmethod
    def of(cls, page: ContactPage) -> ContactPageOut:
        return cls(items=[ContactOut.of(c) for c in page.items], next_cursor=page.next_cursor)


class ContactStatsOut(BaseModel):
    total: int = Field(description="Live contacts (deleted ones not counted)")
    opted_out: int
    by_source: dict[str, int]
    by_tag: dict[str, int] = Field(description="The 100 most used tags, most used first")

    @classmethod
    def of(cls, stats: ContactStats) -> ContactStatsOut:
        return cls(**stats.model_dump())


class SegmentIn(SegmentInput):
    """A named filter (see `SegmentFilterInput`)."""


class SegmentPatchIn(SegmentChanges):
    """Only the fields sent change; a `filter` sent replaces the whole filter."""


class SegmentFilterOut(BaseModel):
    tags_any: list[str]
    tags_all: list[str]
    attributes: dict[str, Any]
    language: str | None
    opted_out: bool | None
    created_after: datetime | None
    last_inbound_after: datetime | None

    @classmethod
    def of(cls, filter: SegmentFilter) -> SegmentFilterOut:
        return cls(**filter.model_dump())


class SegmentOut(BaseModel):
    id: str
    name: str
    filter: SegmentFilterOut
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, segment: Segment) -> SegmentOut:
        assert segment.id is not None  # noqa: S101 - stored
        return cls(id=segment.id, name=segment.name, filter=SegmentFilterOut.of(segment.filter),
                   created_at=segment.created_at, updated_at=segment.updated_at)  # fmt: skip


class SegmentPageOut(BaseModel):
    items: list[SegmentOut]
    total: int
    page: int
    page_size: int


class SegmentPreviewOut(BaseModel):
    count: int = Field(description="Live contacts the segment holds now")
    items: list[ContactOut] = Field(description="The newest of them")

    @classmethod
    def of(cls, preview: SegmentPreview) -> SegmentPreviewOut:
        return cls(count=preview.count, items=[ContactOut.of(c) for c in preview.items])


class ContactExportIn(BaseModel):
    """The filters of `GET /contacts`, all optional; none exports every live contact."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(default=None, max_length=100, description="Search text")
    tag: str | None = Field(default=None, max_length=50, description="Only with this tag")
    segment_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="Only in this segment"
    )
    opted_out: bool | None = Field(default=None, description="Only opted out, or only not")


class ContactExportOut(BaseModel):
    id: str
    status: ExportStatus = Field(description="`queued`, `running`, `done` or `failed`")
    total_rows: int = Field(description="Contacts written (0 until done)")
    url: str | None = Field(
        description=(
            "A signed link to the CSV, fresh on every read: only when `done` and before "
            "`expires_at`; it needs no token"
        )
    )
    url_expires_at: datetime | None = Field(description="When `url` stops working")
    reason: str | None = Field(description="Why it failed (`failed` only)")
    filters: ContactExportIn = Field(description="What was asked for")
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None = Field(description="The file is offered until then")

    @classmethod
    def of(cls, view: ExportView) -> ContactExportOut:
        export = view.export
        query = export.query
        assert export.id is not None  # noqa: S101 - stored
        return cls(
            id=export.id, status=export.status, total_rows=export.total_rows,
            url=view.link.url if view.link else None,
            url_expires_at=view.link.expires_at if view.link else None,
            reason=export.reason,
            filters=ContactExportIn(q=query.q, tag=query.tag, segment_id=export.segment_id,
                                    opted_out=query.opted_out),
            created_at=export.created_at, finished_at=export.finished_at,
            expires_at=export.expires_at,
        )  # fmt: skip
