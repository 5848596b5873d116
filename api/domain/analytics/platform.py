"""Platform analytics: the figures of every tenant together, by UTC day, for platform
admins (`GET /api/v1/analytics/platform`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from pydantic import BaseModel, Field


class PlatformDay(BaseModel):
    day: str  # YYYY-MM-DD (UTC)
    tenants_new: int = 0
    tenants_active: int = 0  # tenants with a message (either way) or AI tokens that day
    messages_inbound: int = 0
    messages_outbound: int = 0
    ai_tokens: int = 0
    storage_bytes: int = 0  # bytes of files stored that day


class PlatformTotals(BaseModel):
    tenants_new: int = 0
    tenants_active: int = 0  # distinct tenants active on any day of the range
    messages_inbound: int = 0
    messages_outbound: int = 0
    ai_tokens: int = 0
    storage_bytes: int = 0
    tenants: int = 0  # every tenant now
    tenants_by_status: dict[str, int] = Field(default_factory=dict)  # every status present
    storage_bytes_now: int = 0  # every stored file now


class PlatformAnalytics(BaseModel):
    since: date
    until: date  # included
    days: list[PlatformDay]
    totals: PlatformTotals
    computed_at: datetime


class TenantDayActivity(BaseModel):
    """One tenant's figures of one day (what the platform's are summed from)."""

    tenant_id: str
    day: str
    messages_inbound: int = 0
    messages_outbound: int = 0
    ai_tokens: int = 0
    storage_bytes: int = 0


class PlatformFigures(Protocol):
    """Cross-tenant reads of the platform's figures (UTC days)."""

    async def tenants_created(self, since: datetime, until: datetime) -> dict[str, int]:
        """Tenants created per day in `[since, until)`."""
        ...

    async def tenants_by_status(self) -> dict[str, int]: ...

    async def tenant_ids(self) -> list[str]: ...

    async def activity(
        self, tenant_id: str, since: datetime, until: datetime, days: list[str]
    ) -> list[TenantDayActivity]:
        """One tenant's messages, AI tokens and stored bytes by day (`days`: the range's
        day names)."""
        ...

    async def storage_bytes(self, tenant_id: str) -> int: ...


class PlatformAnalyticsCache(Protocol):
    async def get(self, key: str) -> PlatformAnalytics | None: ...

    async def put(self, key: str, answer: PlatformAnalytics, seconds: int) -> None: ...
