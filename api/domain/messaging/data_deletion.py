"""A person's request, through the provider (Instagram's data deletion callback), that the
business delete what it holds about them: what was erased, and the confirmation code the
person is given to follow it up.

Only a digest of the provider's user id is kept (`user_key`), never the id itself."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel


class DeletionStatus(StrEnum):
    COMPLETED = "completed"


class DataDeletionRequest(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    channel_id: str
    confirmation_code: str
    user_key: str  # sha256 of the provider's user id
    status: DeletionStatus
    contacts_erased: int = 0
    messages_erased: int = 0
    requested_at: datetime
    completed_at: datetime | None = None


class DataDeletionRequests(Protocol):
    """Requests of the current tenant."""

    async def add(self, request: DataDeletionRequest) -> DataDeletionRequest: ...

    async def by_code(self, channel_id: str, code: str) -> DataDeletionRequest | None: ...
