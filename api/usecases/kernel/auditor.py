"""Writing audit entries with the request's context filled in."""

from __future__ import annotations

from typing import Any

from api.common.clock import utcnow
from api.common.request_context import current_client, current_request_id
from api.domain.audit import AuditEntry, AuditLog, redact
from api.domain.tenancy import current_tenant_or_none

_CURRENT = object()


class Auditor:
    """Records `resource.verb` entries: tenant, actor, target, redacted changes, IP, agent."""

    def __init__(self, log: AuditLog) -> None:
        self._log = log

    async def record(
        self,
        action: str,
        resource_type: str,
        resource_id: str | None = None,
        *,
        actor_id: str | None,
        changes: dict[str, Any] | None = None,
        tenant_id: str | object | None = _CURRENT,
    ) -> None:
        ip, user_agent = current_client()
        await self._log.record(
            AuditEntry(
                tenant_id=current_tenant_or_none() if tenant_id is _CURRENT else tenant_id,
                actor_id=actor_id,
                action=action,
                resource_type=resource_type,
                resource_id=resource_id,
                changes=redact(changes or {}),
                ip=ip,
                user_agent=user_agent,
                request_id=current_request_id(),
                created_at=utcnow(),
            )
        )


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """`{field: {"from": old, "to": new}}` for the fields that changed."""
    return {
        key: {"from": before.get(key), "to": value}
        for key, value in after.items()
        if before.get(key) != value
    }
