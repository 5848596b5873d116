"""Segments: saved contact filters (`SegmentFilter`), named, per tenant. A segment's
contacts are computed when asked (a preview, a list, a campaign's audience), never
stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

from api.domain.messaging.contacts import SegmentFilter


class Segment(BaseModel):
    id: str | None = None
    name: str
    filter: SegmentFilter
    created_at: datetime
    updated_at: datetime


class SegmentRepository(Protocol):
    """Segments of the current tenant."""

    async def add(self, segment: Segment) -> Segment:
        """Store a new segment; `Conflict` when the name is taken."""
        ...

    async def get(self, segment_id: str) -> Segment | None: ...

    async def page(self, *, skip: int, limit: int) -> tuple[list[Segment], int]:
        """Ordered by name, with the total."""
        ...

    async def update(self, segment_id: str, changes: dict[str, Any]) -> Segment | None: ...

    async def delete(self, segment_id: str) -> bool: ...
