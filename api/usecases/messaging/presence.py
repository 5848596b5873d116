"""Agents' presence (`/api/v1/inbox/presence`): each agent sets their own; everyone with
`inbox:read` sees every agent's, with how many unresolved conversations each holds.

An online or away presence lasts the deployment's `PresencePolicy.ttl_seconds` from when
it was set or refreshed (the client re-sending it, or its socket calling
`RefreshPresence`), then reads offline. Setting one publishes `presence.updated`; one
that lapses publishes nothing (clients read its `expires_at`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from api.domain.clock import Clock
from api.domain.identity.auth import Principal
from api.domain.messaging.conversations import ConversationRepository
from api.domain.messaging.presence import AgentPresence, PresenceStatus, PresenceStore
from api.domain.messaging.realtime import InboxEvent, InboxEvents, InboxEventType
from api.domain.permissions import Permission
from api.domain.tenancy import current_tenant
from api.usecases.kernel.authority import require_permission
from api.usecases.messaging.inbox_agents import AgentRoster, PresencePolicy


class AgentStatus(BaseModel):
    """An agent as the presence list shows them."""

    user_id: str
    full_name: str
    email: str
    status: PresenceStatus
    since: datetime | None = None
    expires_at: datetime | None = None
    open_assigned: int = 0


def presence_event(presence: AgentPresence) -> InboxEvent:
    return InboxEvent(
        type=InboxEventType.PRESENCE_UPDATED,
        tenant_id=current_tenant(),
        data=presence.model_dump(mode="json"),
    )


class SetPresence:
    """The caller's own presence (`inbox:read`); publishes `presence.updated`."""

    def __init__(
        self, store: PresenceStore, events: InboxEvents, clock: Clock, policy: PresencePolicy
    ) -> None:
        self._store = store
        self._events = events
        self._clock = clock
        self._policy = policy

    async def execute(self, principal: Principal, status: PresenceStatus) -> AgentPresence:
        require_permission(principal, Permission.INBOX_READ)
        now = self._clock.now()
        expires = (
            None
            if status is PresenceStatus.OFFLINE
            else now + timedelta(seconds=self._policy.ttl_seconds)
        )
        presence = AgentPresence(
            user_id=principal.user_id, status=status, since=now, expires_at=expires
        )
        await self._store.set(presence)
        await self._events.publish(presence_event(presence))
        return presence


class RefreshPresence:
    """Extend the caller's unexpired online/away presence by the policy's TTL (what a
    connected socket calls on its heartbeat); False when there is none to extend."""

    def __init__(self, store: PresenceStore, clock: Clock, policy: PresencePolicy) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy

    async def execute(self, principal: Principal) -> bool:
        require_permission(principal, Permission.INBOX_READ)
        now = self._clock.now()
        expires = now + timedelta(seconds=self._policy.ttl_seconds)
        return await self._store.refresh(principal.user_id, expires, now)


class ListPresence:
    """Every active agent of the tenant (`inbox:read`), by id: their presence as it reads
    now and how many unresolved conversations they hold."""

    def __init__(
        self,
        agents: AgentRoster,
        store: PresenceStore,
        conversations: ConversationRepository,
        clock: Clock,
    ) -> None:
        self._agents = agents
        self._store = store
        self._conversations = conversations
        self._clock = clock

    async def execute(self, principal: Principal) -> list[AgentStatus]:
        require_permission(principal, Permission.INBOX_READ)
        now = self._clock.now()
        users = await self._agents.all()
        stored = await self._store.all()
        load = await self._conversations.unresolved_load([u.id for u in users if u.id])
        listed: list[AgentStatus] = []
        for user in users:
            assert user.id is not None  # noqa: S101 - stored
            presence = stored.get(user.id)
            status = presence.at(now) if presence else PresenceStatus.OFFLINE
            live = presence is not None and status is not PresenceStatus.OFFLINE
            listed.append(
                AgentStatus(
                    user_id=user.id, full_name=user.full_name, email=user.email, status=status,
                    since=presence.since if live and presence else None,
                    expires_at=presence.expires_at if live and presence else None,
                    open_assigned=load.get(user.id, 0),
                )
            )  # fmt: skip
        return listed
