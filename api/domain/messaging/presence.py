"""Agents' presence in the inbox: online, away or offline, as each agent says.

A presence lasts `ttl` from when it was set or refreshed (by the client re-sending it, or
by its socket); one not refreshed in time reads as `offline`, so an agent whose browser
died stops receiving conversations. Only `online` agents are auto-assigned.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict


class PresenceStatus(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class AgentPresence(BaseModel):
    """An agent's stated presence: `expires_at` None for `offline`."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    status: PresenceStatus
    since: datetime
    expires_at: datetime | None = None

    def at(self, now: datetime) -> PresenceStatus:
        """The status as it reads at `now` (an expired one is `offline`)."""
        if self.expires_at is not None and self.expires_at <= now:
            return PresenceStatus.OFFLINE
        return self.status


class PresenceStore(Protocol):
    """Presence of the current tenant's agents (fail closed without a tenant)."""

    async def set(self, presence: AgentPresence) -> None:
        """Store the agent's presence (replacing the previous one)."""
        ...

    async def refresh(self, user_id: str, expires_at: datetime, now: datetime) -> bool:
        """Extend an unexpired online/away presence to `expires_at`; False when there is
        none to extend (offline, expired or never set)."""
        ...

    async def all(self) -> dict[str, AgentPresence]:
        """Every stored presence of the tenant by user id (expired ones included: read
        them with `AgentPresence.at`)."""
        ...
