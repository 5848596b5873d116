"""Auto-assignment of a conversation that has just opened, by the tenant's rule.

`off`: nothing. `round_robin`: the next online agent in turn (agents ordered by id, after
the last one chosen) under capacity. `least_busy`: the online agent holding the fewest
unresolved conversations, under capacity (ties in turn). Nobody available: it stays
unassigned. Candidates are agents (`AgentRoster`: active, holding the assignable
permission now) whose presence reads `online`; for a conversation routed to a
department, only the department's members (a department gone meanwhile: nobody).

Concurrency: the choice and the write run under the tenant's assignment lock, so two
conversations opening at once are assigned one after the other and each sees the other's
load: auto-assignment never takes an agent past `agent_capacity` (bar a holder stalled
beyond the lock's lease, `INBOX_ASSIGN_LOCK_SECONDS`: then at most one more per stall).
The write is conditional (still unassigned), so a manual assignment meanwhile wins.
Manual assignment is not limited by capacity. Assigned: `conversation.updated` is
published and `conversation.assigned` audited with no actor (`by: auto_assign`).
"""

from __future__ import annotations

import logging

from api.domain.clock import Clock
from api.domain.departments import DepartmentRepository, department_scope
from api.domain.messaging.conversations import Conversation, ConversationRepository
from api.domain.messaging.inbox_settings import AutoAssign, InboxSettingsRepository
from api.domain.messaging.presence import PresenceStatus, PresenceStore
from api.domain.messaging.realtime import InboxEvent, InboxEvents, InboxEventType
from api.domain.messaging.routing import AssignmentState, choose_agent
from api.usecases.kernel.auditor import Auditor
from api.usecases.messaging.inbox_agents import AgentRoster
from api.usecases.messaging.inbox_settings import settings_or_defaults

log = logging.getLogger(__name__)
SYSTEM_ACTOR = "auto_assign"


class AutoAssignConversation:
    def __init__(
        self,
        settings: InboxSettingsRepository,
        presence: PresenceStore,
        agents: AgentRoster,
        conversations: ConversationRepository,
        state: AssignmentState,
        events: InboxEvents,
        auditor: Auditor,
        clock: Clock,
        departments: DepartmentRepository,
    ) -> None:
        self._settings = settings
        self._presence = presence
        self._agents = agents
        self._conversations = conversations
        self._state = state
        self._events = events
        self._auditor = auditor
        self._clock = clock
        self._departments = departments

    async def execute(self, conversation: Conversation) -> Conversation | None:
        """The conversation as assigned, or None when nobody was (current tenant). The
        system's work: whoever's request it follows, it reads every department's load."""
        with department_scope(None):
            return await self._assign(conversation)

    async def _assign(self, conversation: Conversation) -> Conversation | None:
        settings = await settings_or_defaults(self._settings)
        if settings.auto_assign is AutoAssign.OFF or conversation.assignee_id is not None:
            return None
        assert conversation.id is not None  # noqa: S101 - stored
        now = self._clock.now()
        online = [
            user_id
            for user_id, presence in (await self._presence.all()).items()
            if presence.at(now) is PresenceStatus.ONLINE
        ]
        if conversation.department_id is not None:
            online = await self._members_among(conversation.department_id, online)
        if not online:
            return None
        async with self._state.exclusive() as held:
            if not held:
                log.warning("auto-assignment lock busy; conversation %s left", conversation.id)
                return None
            agents = await self._agents.among(online)
            load = await self._conversations.unresolved_load(agents)
            chosen = choose_agent(
                settings.auto_assign, agents, load, settings.agent_capacity,
                await self._state.last_assigned(),
            )  # fmt: skip
            if chosen is None:
                return None
            assigned = await self._conversations.assign_if_unassigned(conversation.id, chosen)
            if assigned is None:
                return None
            await self._state.remember(chosen)
        await self._events.publish(
            InboxEvent.of_conversation(InboxEventType.CONVERSATION_UPDATED, assigned)
        )
        await self._auditor.record(
            "conversation.assigned", "conversation", conversation.id, actor_id=None,
            changes={"assignee_id": chosen, "by": SYSTEM_ACTOR, "rule": settings.auto_assign.value},
        )  # fmt: skip
        return assigned

    async def _members_among(self, department_id: str, user_ids: list[str]) -> list[str]:
        """Those of `user_ids` who are members of the department (none when it is gone)."""
        department = await self._departments.get(department_id)
        members = set(department.member_ids) if department is not None else set()
        return [u for u in user_ids if u in members]
