"""Outbound email in MongoDB: one tenant-owned document per message a tenant asked to send."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field
from pymongo import DESCENDING, IndexModel

from api.common.clock import utcnow
from api.domain.email.messages import ContextValue, EmailStatus, EmailTemplate, OutboundEmail
from api.domain.errors import NotFound
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
)

MAX_ERROR_LENGTH = 500


class OutboundEmailDocument(TenantOwnedDocument):
    to: str
    template: EmailTemplate
    context: dict[str, ContextValue] = Field(default_factory=dict)
    status: EmailStatus = EmailStatus.QUEUED
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime
    sent_at: datetime | None = None

    class Settings:
        name = "outbound_emails"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1), ("created_at", DESCENDING)], name="tenant_created"),
            IndexModel([(TENANT_FIELD, 1), ("status", 1)], name="tenant_status"),
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
        await self._apply(email_id, {"$inc": {"attempts": 1}, "$set": changes})

    async def mark(self, email_id: str, status: EmailStatus) -> None:
        await self._apply(email_id, {"$set": _status_changes(status)})

    async def _apply(self, email_id: str, update: Mapping[str, Mapping[str, Any]]) -> None:
        """Apply one atomic update document to this tenant's email; `NotFound` if absent."""
        self._scoped.scope()  # first: no tenant is TenantRequired, whatever the id
        if not await self._scoped.apply(email_id, update):
            raise NotFound("No such email in this tenant.")
