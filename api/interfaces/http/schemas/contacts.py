"""Contacts and segments as the API shows them (API.md's shapes) and takes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.domain.messaging.channels import ChannelType
from api.domain.messaging.contact_exports import ExportStatus
from api.domain.messaging.contacts import (
    ConsentSource,
    Contact,
    ContactChannel,
    ContactPage,
    ContactSource,
    ContactStats,
    SegmentFilter,
)
from api.domain.messaging.segments import Segment
from api.usecases.messaging.contact_erasure import ErasureReport
from api.usecases.messaging.export_contacts import ExportView
from api.usecases.messaging.manage_contacts import ContactChanges, NewContact
from api.usecases.messaging.manage_segments import (
    SegmentChanges,
    SegmentInput,
    SegmentPreview,
)
from api.usecases.messaging.merge_contacts import MergeCandidate, MergeResult

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
    channels: list[ContactChannel] = Field(
        description="Every channel the customer wrote on (`channel_id`, `channel_type`), "
        "first met first; a merge adds the merged contact's"
    )
    channel_types: list[ChannelType] = Field(
        description="The kinds of channel the customer is reachable on (`whatsapp`, "
        "`telegram`, `instagram`, `messenger`), each once"
    )
    last_inbound_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, contact: Contact) -> ContactOut:
        return cls(
            **contact.model_dump(exclude={"tenant_id", "deleted_at", "merged_into",
                                          "merging_into"}),
            channel_types=contact.channel_types,
        )  # fmt: skip


class ContactPageOut(BaseModel):
    items: list[ContactOut]
    next_cursor: str | None = Field(description=CURSOR_NOTE)

    @classmethod
    def of(cls, page: ContactPage) -> ContactPageOut:
        return cls(items=[ContactOut.of(c) for c in page.items], next_cursor=page.next_cursor)


class ContactMergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_contact_id: str = Field(
        min_length=1, max_length=64, description="The contact merged into this one (deleted)"
    )


class MovedOut(BaseModel):
    conversations: list[str] = Field(description="The conversations moved (ids)")
    resolved_conversations: list[str] = Field(
        description="Moved ones that were resolved: the target had its own unresolved "
        "conversation on that channel (one per contact and channel)"
    )
    messages: int
    leads: int
    tickets: int
    meetings: int
    callback_requests: int
    channel_identities: int = Field(
        description="The customer's Telegram, Messenger and Instagram user ids: their "
        "next messages reach the target"
    )


class ContactMergeOut(BaseModel):
    contact: ContactOut = Field(description="The target as it is after the merge")
    source_contact_id: str = Field(description="Deleted, `merged_into` the target")
    moved: MovedOut = Field(description="What this request moved")
    identities: list[str] = Field(
        description="What the target gained: `phone`, `wa_id`, `bsuid`, `username`, `email`"
    )
    kept_from_target: list[str] = Field(
        description="Where both had a different value and the target's was kept "
        "(`email`, `attributes.plan`, ...)"
    )
    dropped: list[str] = Field(
        description="The source's tags and attributes over the limits (50 each), ids "
        "another contact took meanwhile, and a WhatsApp user id (`bsuid`, per channel) the "
        "target cannot hold, having written on another channel"
    )

    @classmethod
    def of(cls, result: MergeResult) -> ContactMergeOut:
        moved = result.moved
        return cls(
            contact=ContactOut.of(result.contact), source_contact_id=result.source_contact_id,
            moved=MovedOut(**moved.model_dump(exclude={"resolved"}),
                           resolved_conversations=moved.resolved),
            identities=result.identities, kept_from_target=result.kept_from_target,
            dropped=result.dropped,
        )  # fmt: skip


class MergeCandidateOut(ContactOut):
    matched_on: list[str] = Field(description="`phone` and/or `email`")


class MergeCandidatesOut(BaseModel):
    items: list[MergeCandidateOut]

    @classmethod
    def of(cls, candidates: list[MergeCandidate]) -> MergeCandidatesOut:
        return cls(items=[
            MergeCandidateOut(**ContactOut.of(c.contact).model_dump(), matched_on=c.matched_on)
            for c in candidates
        ])  # fmt: skip


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


class ContactErasureOut(BaseModel):
    contact_id: str = Field(description="The erased contact (reading it is 404 from now on)")
    conversations: int = Field(
        description="Conversations whose contact summary was blanked (they stay)"
    )
    messages_erased: int = Field(
        description="Messages they sent whose text, content and file link were erased"
    )
    files_deleted: int = Field(description="Files they sent, deleted from the storage")
    campaign_rows_erased: int = Field(
        description="Campaign recipient rows that lost their address, name and values"
    )
    realtime_events_erased: int = Field(
        description=(
            "Events of their conversations removed from the tenant's real-time log (what "
            "reconnecting sockets replay)"
        )
    )
    webhook_deliveries_erased: int = Field(
        description=(
            "Raw webhook deliveries naming them whose body was erased (one still being "
            "processed is erased when its processing ends)"
        )
    )
    merged_contacts_erased: int = Field(
        description="Contacts that had been merged into this one, erased with it"
    )
    erased_at: datetime

    @classmethod
    def of(cls, report: ErasureReport) -> ContactErasureOut:
        return cls(**report.model_dump())
