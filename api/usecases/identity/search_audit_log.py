"""Reading the tenant's audit log (filters, cursor pages)."""

from __future__ import annotations

from api.domain.audit import AuditEntry, AuditLog, AuditQuery


class SearchAuditLog:
    """The current tenant's audit entries, newest first."""

    def __init__(self, log: AuditLog) -> None:
        self._log = log

    async def execute(self, query: AuditQuery) -> tuple[list[AuditEntry], int]:
        return await self._log.search(query)
