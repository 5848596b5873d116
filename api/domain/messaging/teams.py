"""Teams: named groups of the tenant's users that conversations can be handed to (an
inbox transfer "to Billing"), and that auto-assignment picks agents from.

They live in the messaging context because the inbox is their only user: a conversation's
`team_id` names one. Names are unique per tenant regardless of case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, Field


class Team(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    name: str
    member_ids: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


class TeamPage(BaseModel):
    items: list[Team]
    total: int


class TeamRepository(Protocol):
    """Teams of the current tenant."""

    async def add(self, team: Team) -> Team:
        """Store a new team; `TeamNameTaken` when the name (any case) is taken."""
        ...

    async def get(self, team_id: str) -> Team | None: ...

    async def update(self, team_id: str, changes: dict[str, object]) -> Team | None:
        """Set `name` and/or `member_ids` (and `updated_at`); None when absent;
        `TeamNameTaken` when the new name is taken."""
        ...

    async def delete(self, team_id: str) -> bool: ...

    async def search(self, *, skip: int, limit: int) -> TeamPage:
        """By name (case-insensitively), and the total."""
        ...
