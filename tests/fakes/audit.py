"""A fake of the audit log port."""

from __future__ import annotations

from api.domain.audit import AuditEntry, AuditLog, AuditQuery


class FakeAuditLog(AuditLog):
    """Entries in the order they were recorded; `search` answers them all."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    async def search(self, query: AuditQuery) -> tuple[list[AuditEntry], int]:
        return self.entries, len(self.entries)

    def actions(self) -> list[str]:
        return [e.action for e in self.entries]
