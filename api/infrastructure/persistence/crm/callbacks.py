"""Callback requests in MongoDB (`crm_callback_requests`), within the current tenant and
the caller's department scope (`DepartmentScopedRepository`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from beanie import SortDirection
from pymongo import DESCENDING, IndexModel

from api.domain.crm.callbacks import (
    COLLECTION,
    CallbackFilter,
    CallbackPage,
    CallbackRequest,
    CallbackStatus,
)
from api.infrastructure.persistence.base.department_scoped import (
    DepartmentOwnedDocument,
    DepartmentScopedRepository,
)
from api.infrastructure.persistence.base.scoped import TENANT_FIELD, to_object_id
from api.infrastructure.persistence.messaging.cursors import after_cursor, encode_cursor

_NEWEST = [("created_at", SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)]


class CallbackRequestDocument(DepartmentOwnedDocument):
    name: str
    phone: str
    preferred_time: str | None = None
    message: str | None = None
    contact_id: str | None = None
    status: CallbackStatus = CallbackStatus.NEW
    assignee_id: str | None = None
    assigned_at: datetime | None = None
    assigned_by: str | None = None
    outcome: str | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    cancel_reason: str | None = None
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = COLLECTION
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="tenant_newest",
            ),
            IndexModel(
                [(TENANT_FIELD, 1), ("status", 1), ("created_at", DESCENDING)],
                name="tenant_status_newest",
            ),
            IndexModel(
                [(TENANT_FIELD, 1), ("assignee_id", 1), ("created_at", DESCENDING)],
                name="tenant_assignee_newest",
            ),
            IndexModel(
                [(TENANT_FIELD, 1), ("department_id", 1), ("created_at", DESCENDING)],
                name="tenant_department_newest",
            ),
            # A contact's requests (a contact merge moves them).
            IndexModel([(TENANT_FIELD, 1), ("contact_id", 1)], name="tenant_contact"),
        ]

    def to_entity(self) -> CallbackRequest:
        return CallbackRequest(id=str(self.id), **self.model_dump(exclude={"id", "revision_id"}))


class BeanieCallbackRequestRepository:
    """`CallbackRequestRepository` adapter (fail closed: `TenantRequired` without a
    tenant; a request outside the department scope is not found and cannot be written)."""

    def __init__(self) -> None:
        self._scoped = DepartmentScopedRepository(CallbackRequestDocument)

    async def add(self, request: CallbackRequest) -> CallbackRequest:
        fields = request.model_dump(exclude={"id", "tenant_id"})
        return (await self._scoped.insert(CallbackRequestDocument(**fields))).to_entity()

    async def get(self, request_id: str) -> CallbackRequest | None:
        document = await self._scoped.get(request_id)
        return document.to_entity() if document else None

    async def move(
        self,
        request_id: str,
        statuses: frozenset[CallbackStatus],
        changes: dict[str, object],
    ) -> CallbackRequest | None:
        oid = to_object_id(request_id)
        if oid is None:
            return None
        condition = {"_id": oid, "status": {"$in": sorted(s.value for s in statuses)}}
        values = {k: getattr(v, "value", v) for k, v in changes.items()}
        document = await self._scoped.apply_and_get(condition, {"$set": values})
        return document.to_entity() if document else None

    async def page(self, filter: CallbackFilter, *, cursor: str | None, limit: int) -> CallbackPage:
        query: dict[str, Any] = {
            k: getattr(v, "value", v) for k, v in filter.model_dump().items() if v is not None
        }
        found = await self._scoped.find(
            {**query, **after_cursor("created_at", cursor)}, sort=_NEWEST, limit=limit + 1
        )
        items = [d.to_entity() for d in found[:limit]]
        last = found[limit - 1] if len(found) > limit else None
        next_cursor = encode_cursor(last.created_at, str(last.id)) if last else None
        return CallbackPage(items=items, next_cursor=next_cursor)
