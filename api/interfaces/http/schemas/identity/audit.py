"""Audit-log entries as clients read them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from api.domain.audit import AuditEntry
from api.interfaces.http.schemas.paging import Page


class AuditEntryOut(BaseModel):
    id: str
    tenant_id: str | None
    actor_id: str | None
    action: str
    resource_type: str
    resource_id: str | None
    changes: dict[str, Any]
    ip: str | None
    user_agent: str | None
    request_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls(id=entry.id or "", **entry.model_dump(exclude={"id"}))


AuditPageOut = Page[AuditEntryOut]
