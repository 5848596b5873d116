"""A campaign's audience read from the contacts collection, in batches.

The segments' filters go through `contact_filter`, the one compilation of a segment to a
MongoDB filter (so a run holds the contacts the segment's preview shows); chosen contacts
are read by id. Deleted contacts are never read. Parts may overlap: the snapshot's unique
(run, contact) key keeps one row per contact.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from api.domain.messaging.contacts import Contact, ContactQuery, SegmentFilter
from api.infrastructure.persistence.base.scoped import TenantScopedRepository, to_object_id
from api.infrastructure.persistence.messaging.contacts import ContactDocument, contact_filter


class MongoAudienceContacts:
    """`AudienceContacts` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(ContactDocument)

    def batches(
        self,
        *,
        filters: list[SegmentFilter],
        contact_ids: list[str],
        everyone: bool,
        size: int,
    ) -> AsyncIterator[list[Contact]]:
        return self._batches(filters, contact_ids, everyone, size)

    async def _batches(
        self, filters: list[SegmentFilter], contact_ids: list[str], everyone: bool, size: int
    ) -> AsyncIterator[list[Contact]]:
        queries = [ContactQuery()] if everyone else [ContactQuery(segment=f) for f in filters]
        for query in queries:
            async for found in self._scoped.batches(contact_filter(query), size=size):
                yield [document.to_entity() for document in found]
        if everyone:
            return
        ids = [oid for oid in (to_object_id(raw) for raw in dict.fromkeys(contact_ids)) if oid]
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            found = await self._scoped.find({"_id": {"$in": chunk}, "deleted_at": None})
            if found:
                yield [document.to_entity() for document in found]
