"""The audit log: who did what to which resource, when, from where. Append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field

REDACTED = "[redacted]"
SECRET_FIELDS = frozenset(
    {"password", "password_hash", "new_password", "token", "refresh_token", "mfa_secret",
     "mfa_recovery_codes", "recovery_codes",
     "secret", "code", "access_token", "connection_string", "secret_access_key",
     "app_secret", "verify_token", "bot_token", "page_access_token"}
)  # fmt: skip


class AuditEntry(BaseModel):
    id: str | None = None
    tenant_id: str | None
    actor_id: str | None
    action: str  # resource.verb in the past tense: user.created, auth.login_failed
    resource_type: str
    resource_id: str | None = None
    changes: dict[str, Any] = Field(default_factory=dict)
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    created_at: datetime


def redact(changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` with every secret-looking field replaced by a marker, recursively."""
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if key.lower() in SECRET_FIELDS:
            clean[key] = REDACTED
        elif isinstance(value, dict):
            clean[key] = redact(value)
        else:
            clean[key] = value
    return clean


class AuditQuery(BaseModel):
    actor_id: str | None = None
    action: str | None = None
    resource_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    skip: int = 0
    limit: int = 20


class AuditLog(Protocol):
    """Writes entries (for the tenant in context, or the platform) and reads them."""

    async def record(self, entry: AuditEntry) -> None: ...

    async def search(self, query: AuditQuery) -> tuple[list[AuditEntry], int]:
        """Entries of the current tenant, newest first, and their total."""
        ...
