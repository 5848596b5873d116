"""The audit log in MongoDB: append-only, forgotten after `retention_days` by a TTL index.

Entries are not `TenantOwnedDocument`s (platform entries have no tenant), so tenant reads
are scoped here, by one method: `_tenant_filter` takes the tenant from the context and
raises `TenantRequired` without one. There is no update or delete: nothing rewrites history.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar

from beanie import Document, SortDirection
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from api.common.request_context import current_request_id
from api.domain.audit import AuditEntry, AuditQuery, redact
from api.domain.tenancy import current_tenant, current_tenant_or_none
from api.infrastructure.persistence.base.mongo import database_errors, ensure_ttl_index
from api.infrastructure.persistence.base.paging import window

RETENTION_INDEX = "created_at_ttl"
_TENANT = "tenant_id"


class AuditEntryDocument(Document):
    tenant_id: str | None  # None: the platform plane
    actor_id: str | None
    action: str
    resource_type: str
    resource_id: str | None = None
    changes: dict[str, Any] = Field(default_factory=dict)
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    created_at: datetime

    class Settings:
        name = "audit_logs"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(_TENANT, 1), ("created_at", DESCENDING)], name="tenant_created"),
            IndexModel(
                [(_TENANT, 1), ("actor_id", 1), ("created_at", DESCENDING)],
                name="tenant_actor_created",
            ),
            IndexModel(
                [(_TENANT, 1), ("action", 1), ("created_at", DESCENDING)],
                name="tenant_action_created",
            ),
            # One resource's history (a conversation's status changes, for transcripts).
            IndexModel(
                [(_TENANT, 1), ("resource_id", 1), ("created_at", ASCENDING)],
                name="tenant_resource_created",
            ),
        ]

    def to_entity(self) -> AuditEntry:
        return AuditEntry(id=str(self.id), **self.model_dump(exclude={"id", "revision_id"}))


def _query_filter(query: AuditQuery) -> dict[str, Any]:
    """The query's conditions (without the tenant). `since` is inclusive, `until` exclusive."""
    filter: dict[str, Any] = {}
    if query.actor_id is not None:
        filter["actor_id"] = query.actor_id
    if query.action:
        if query.action.endswith(".*"):  # a family of actions: "auth.*"
            filter["action"] = {"$regex": "^" + re.escape(query.action[:-1])}
        else:
            filter["action"] = query.action
    if query.resource_type is not None:
        filter["resource_type"] = query.resource_type
    window: dict[str, datetime] = {}
    if query.since is not None:
        window["$gte"] = query.since
    if query.until is not None:
        window["$lt"] = query.until
    if window:
        filter["created_at"] = window
    return filter


class MongoAuditLog:
    """`AuditLog` adapter: tenant reads scoped by the context; platform reads by name."""

    def __init__(self, retention_days: int) -> None:
        self._retention_seconds = retention_days * 86400

    async def ensure_retention(self) -> None:
        """Create (or resize) the TTL index that forgets entries after the retention."""
        await ensure_ttl_index(
            AuditEntryDocument, "created_at", RETENTION_INDEX, self._retention_seconds
        )

    async def record(self, entry: AuditEntry) -> None:
        """Append `entry`, secrets in `changes` redacted, stamped with the request id.

        Within a tenant's context an entry may only name that tenant (or the platform).
        """
        in_context = current_tenant_or_none()
        if in_context is not None and entry.tenant_id not in (None, in_context):
            raise ValueError("cannot record an audit entry for another tenant")
        fields = entry.model_dump(exclude={"id"})
        fields["changes"] = redact(entry.changes)
        if fields["request_id"] is None:
            fields["request_id"] = current_request_id()
        with database_errors():
            await AuditEntryDocument(**fields).insert()

    async def search(self, query: AuditQuery) -> tuple[list[AuditEntry], int]:
        """Entries of the current tenant (`TenantRequired` without one), newest first."""
        return await self._find(self._tenant_filter(_query_filter(query)), query)

    async def search_platform(self, query: AuditQuery) -> tuple[list[AuditEntry], int]:
        """Platform-plane entries (no tenant), newest first. For platform admins only."""
        return await self._find({**_query_filter(query), _TENANT: None}, query)

    @staticmethod
    def _tenant_filter(filter: dict[str, Any]) -> dict[str, Any]:
        return {**filter, _TENANT: current_tenant()}

    @staticmethod
    async def _find(filter: dict[str, Any], query: AuditQuery) -> tuple[list[AuditEntry], int]:
        with database_errors():
            total = await AuditEntryDocument.find(filter).count()
            bounds = window(query.skip, query.limit)
            if bounds is None:
                return [], total
            documents = (
                await AuditEntryDocument.find(filter)
                .sort([("created_at", SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)])
                .skip(bounds.skip)
                .limit(bounds.limit)
                .to_list()
            )
        return [d.to_entity() for d in documents], total
