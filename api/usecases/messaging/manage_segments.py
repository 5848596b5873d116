"""Segments (`/api/v1/segments`): saved contact filters, read with `contacts:read`,
managed with `contacts:write`; a preview counts the contacts a segment holds now and
shows the newest. The filter is the one `GET /contacts?segment_id=` and campaigns use.

Rules: a name is 1-100 characters, unique in the tenant (409); tags normalised like a
contact's (at most 20 per list); attributes matched by equality (at most 20, keys and
values like a contact's). Audited: `segment.created`, `segment.updated`, `segment.deleted`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.domain.errors import NotFound
from api.domain.identity.auth import Principal
from api.domain.messaging.contacts import Contact, ContactQuery, ContactRepository, SegmentFilter
from api.domain.messaging.segments import Segment, SegmentRepository
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_now
from api.usecases.messaging.contact_rules import (
    checked_attributes,
    checked_language,
    normalised_tags,
)
from api.usecases.messaging.inbox_reads import bounded
from api.usecases.messaging.manage_contacts import SEGMENT_NOT_FOUND

MAX_FILTER_ITEMS = 20


class SegmentFilterInput(BaseModel):
    """Every condition given must hold. `attributes` match by equality; `opted_out` false
    (the default) leaves opted-out contacts out, null takes both; deleted contacts are
    never in."""

    model_config = ConfigDict(frozen=True)

    tags_any: list[str] = Field(default_factory=list, max_length=MAX_FILTER_ITEMS)
    tags_all: list[str] = Field(default_factory=list, max_length=MAX_FILTER_ITEMS)
    attributes: dict[str, Any] = Field(default_factory=dict)
    language: str | None = None
    opted_out: bool | None = False
    created_after: datetime | None = None
    last_inbound_after: datetime | None = None


class SegmentInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=100)
    filter: SegmentFilterInput = Field(default_factory=SegmentFilterInput)


class SegmentChanges(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=100)
    filter: SegmentFilterInput | None = None


class SegmentPreview(BaseModel):
    count: int
    items: list[Contact]


def checked_filter(given: SegmentFilterInput) -> SegmentFilter:
    loc = ("body", "filter")
    return SegmentFilter(
        tags_any=normalised_tags(given.tags_any, (*loc, "tags_any")),
        tags_all=normalised_tags(given.tags_all, (*loc, "tags_all")),
        attributes=checked_attributes(
            given.attributes, (*loc, "attributes"), limit=MAX_FILTER_ITEMS
        ),
        language=checked_language(given.language, (*loc, "language")),
        opted_out=given.opted_out,
        created_after=given.created_after,
        last_inbound_after=given.last_inbound_after,
    )


async def existing_segment(segments: SegmentRepository, segment_id: str) -> Segment:
    found = await segments.get(segment_id)
    if found is None:
        raise NotFound(SEGMENT_NOT_FOUND)
    return found


def _audited(segment: Segment) -> dict[str, Any]:
    return segment.model_dump(mode="json", include={"name", "filter"})


class CreateSegment:
    def __init__(self, segments: SegmentRepository, auditor: Auditor) -> None:
        self._segments = segments
        self._auditor = auditor

    async def execute(self, principal: Principal, given: SegmentInput) -> Segment:
        require_permission(principal, Permission.CONTACTS_WRITE)
        now = stored_now()
        segment = await self._segments.add(
            Segment(
                name=given.name, filter=checked_filter(given.filter), created_at=now, updated_at=now
            )
        )
        await self._auditor.record(
            "segment.created", "segment", segment.id, actor_id=principal.user_id,
            changes=audit_extra(principal, _audited(segment)),
        )  # fmt: skip
        return segment


class GetSegment:
    def __init__(self, segments: SegmentRepository) -> None:
        self._segments = segments

    async def execute(self, principal: Principal, segment_id: str) -> Segment:
        require_permission(principal, Permission.CONTACTS_READ)
        return await existing_segment(self._segments, segment_id)


class ListSegments:
    def __init__(self, segments: SegmentRepository) -> None:
        self._segments = segments

    async def execute(
        self, principal: Principal, *, page: int, page_size: int
    ) -> tuple[list[Segment], int]:
        require_permission(principal, Permission.CONTACTS_READ)
        return await self._segments.page(skip=(page - 1) * page_size, limit=page_size)


class UpdateSegment:
    def __init__(self, segments: SegmentRepository, auditor: Auditor) -> None:
        self._segments = segments
        self._auditor = auditor

    async def execute(
        self, principal: Principal, segment_id: str, changes: SegmentChanges
    ) -> Segment:
        require_permission(principal, Permission.CONTACTS_WRITE)
        before = await existing_segment(self._segments, segment_id)
        fields: dict[str, Any] = {}
        if changes.name is not None:
            fields["name"] = changes.name
        if changes.filter is not None:
            fields["filter"] = checked_filter(changes.filter).model_dump()
        after = await self._segments.update(segment_id, fields) if fields else before
        if after is None:
            raise NotFound(SEGMENT_NOT_FOUND)
        changed = diff(_audited(before), _audited(after))
        if changed:
            await self._auditor.record(
                "segment.updated", "segment", segment_id, actor_id=principal.user_id,
                changes=audit_extra(principal, changed),
            )  # fmt: skip
        return after


class DeleteSegment:
    def __init__(self, segments: SegmentRepository, auditor: Auditor) -> None:
        self._segments = segments
        self._auditor = auditor

    async def execute(self, principal: Principal, segment_id: str) -> None:
        require_permission(principal, Permission.CONTACTS_WRITE)
        segment = await existing_segment(self._segments, segment_id)
        if not await self._segments.delete(segment_id):
            raise NotFound(SEGMENT_NOT_FOUND)
        await self._auditor.record(
            "segment.deleted", "segment", segment_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"name": segment.name}),
        )  # fmt: skip


class PreviewSegment:
    """How many live contacts the segment holds now, and the newest `limit` of them."""

    def __init__(self, segments: SegmentRepository, contacts: ContactRepository) -> None:
        self._segments = segments
        self._contacts = contacts

    async def execute(self, principal: Principal, segment_id: str, limit: int) -> SegmentPreview:
        require_permission(principal, Permission.CONTACTS_READ)
        segment = await existing_segment(self._segments, segment_id)
        query = ContactQuery(segment=segment.filter)
        first = await self._contacts.search(query, cursor=None, limit=bounded(limit))
        return SegmentPreview(count=await self._contacts.count(query), items=first.items)
