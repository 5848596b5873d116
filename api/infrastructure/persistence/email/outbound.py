"""Outbound email in MongoDB: one tenant-owned document per message a tenant asked to send."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from api.common.clock import utcnow
from api.domain.email.messages import ContextValue, EmailStatus, EmailTemplate, OutboundEmail
from api.domain.errors import NotFound
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    to_object_id,
)

MAX_ERROR_LENGTH = 500
_LEASE = "send_lease_until"  # a delivery run holds the email until then


class OutboundEmailDocument(TenantOwnedDocument):
    to: str
    template: EmailTemplate
    context: dict[str, ContextValue] = Field(default_factory=dict)
    status: EmailStatus = EmailStatus.QUEUED
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime
    sent_at: datetime | None = None
    send_lease_until: datetime | None = None

    class Settings:
        name = "outbound_emails"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1), ("created_at", DESCENDING)], name="tenant_created"),
            IndexModel([(TENANT_FIELD, 1), ("status", 1)], name="tenant_status"),
            # The sweeper's platform-level read: queued email, oldest first.
            IndexModel([("status", ASCENDING), ("created_at", ASCENDING)], name="status_created"),
        ]

    @classmethod
    def from_entity(cls, email: OutboundEmail) -> OutboundEmailDocument:
        return cls(**email.model_dump(exclude={"id"}))

    def to_entity(self) -> OutboundEmail:
        return OutboundEmail(
            id=str(self.id),
            to=self.to,
            template=self.template,
            context=dict(self.context),
            status=self.status,
            attempts=self.attempts,
            last_error=self.last_error,
            created_at=self.created_at,
            sent_at=self.sent_at,
        )


def _status_changes(status: EmailStatus) -> dict[str, Any]:
    changes: dict[str, Any] = {"status": status.value}
    if status is EmailStatus.SENT:
        changes["sent_at"] = utcnow()
    return changes


class BeanieOutboundEmailRepository:
    """`OutboundEmailRepository` adapter, within the current tenant (fail closed).

    It holds a `TenantScopedRepository` rather than subclassing it: the port's `get`
    returns the domain entity, which would be an incompatible override of the base's
    `get` (returning the document), and the base's generic CRUD is not part of the port.
    """

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(OutboundEmailDocument)

    async def add(self, email: OutboundEmail) -> OutboundEmail:
        document = await self._scoped.insert(OutboundEmailDocument.from_entity(email))
        return document.to_entity()

    async def get(self, email_id: str) -> OutboundEmail | None:
        document = await self._scoped.get(email_id)
        return document.to_entity() if document else None

    async def record_attempt(
        self, email_id: str, error: str | None, status: EmailStatus | None = None
    ) -> None:
        """Count one attempt; `last_error` becomes this attempt's error (None: it worked);
        `status`, when given, is set in the same atomic update."""
        changes: dict[str, Any] = {"last_error": error[:MAX_ERROR_LENGTH] if error else None}
        if status is not None:
            changes.update(_status_changes(status))
        update = {"$inc": {"attempts": 1}, "$set": changes, "$unset": {_LEASE: ""}}
        await self._apply(email_id, update)

    async def mark(self, email_id: str, status: EmailStatus) -> None:
        await self._apply(email_id, {"$set": _status_changes(status)})

    async def claim(self, email_id: str, *, now: datetime, until: datetime) -> bool:
        oid = to_object_id(email_id)
        if oid is None:
            return False
        return await self._scoped.apply_where(
            {"_id": oid, "status": EmailStatus.QUEUED.value,
             _LEASE: {"$not": {"$gt": now}}},  # none, or run out (one plain filter)
            {"$set": {_LEASE: until}},
        )  # fmt: skip

    async def _apply(self, email_id: str, update: Mapping[str, Mapping[str, Any]]) -> None:
        """Apply one atomic update document to this tenant's email; `NotFound` if absent."""
        self._scoped.scope()  # first: no tenant is TenantRequired, whatever the id
        if not await self._scoped.apply(email_id, update):
            raise NotFound("No such email in this tenant.")


class MongoStaleEmails:
    """`StaleEmails` adapter: a platform-level read (no tenant), from `status_created`."""

    async def queued_before(
        self, before: datetime, *, now: datetime, limit: int
    ) -> list[tuple[str, str]]:
        stale = {
            "status": EmailStatus.QUEUED.value,
            "created_at": {"$lt": before},
            _LEASE: {"$not": {"$gt": now}},  # no run holds it (none, or run out)
        }
        collection = OutboundEmailDocument.get_pymongo_collection()
        with database_errors():
            cursor = (
                collection.find(stale, projection={TENANT_FIELD: 1})
                .sort("created_at", 1)
                .limit(limit)
            )
            return [(str(row[TENANT_FIELD]), str(row["_id"])) async for row in cursor]
