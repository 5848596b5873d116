"""Assigning conversations: to an agent, to a team, to nobody; claiming one for oneself.

`ConversationAssigner` is assignment whoever asks (an agent, an admin, auto-assignment):
the checks, one atomic update, the audit entry and the real-time event. The use cases
below add who may ask.
"""

from __future__ import annotations

from api.domain.errors import FieldProblem
from api.domain.identity.auth import Principal
from api.domain.messaging.conversations import Conversation, ConversationRepository
from api.domain.messaging.errors import AlreadyAssigned, UnknownTeam
from api.domain.messaging.teams import TeamRepository
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission
from api.usecases.messaging.inbox_actions import (
    InboxAgents,
    InboxChangeLog,
    changed_or_current,
)
from api.usecases.messaging.inbox_reads import existing_conversation

TAKEN = "The conversation is assigned to another agent already."


class ConversationAssigner:
    """Rules: an assignee is an active user of the tenant holding `inbox:read` (422
    `invalid_assignee`); a team is one of the tenant's (422 `unknown_team`); None
    unassigns. Transfer is assigning to another agent or team. `assign_if_free` gives a
    conversation only if nobody has it (or the same agent does): of racing claims one wins,
    the others get 409 `already_assigned`. Audited `conversation.assigned` (or `.claimed`)
    with the assignee and team before and after; agents get `conversation.updated`.
    Nothing happens when nothing changes. A conversation the AI assistant handles that is
    given to an agent (or claimed) is handed over to humans too (`conversation.handed_off`,
    reason `assigned` or `claimed`): the assistant stops answering in it."""

    def __init__(
        self,
        conversations: ConversationRepository,
        teams: TeamRepository,
        agents: InboxAgents,
        log: InboxChangeLog,
    ) -> None:
        self._conversations = conversations
        self._teams = teams
        self._agents = agents
        self._log = log

    async def assign(
        self,
        conversation_id: str,
        *,
        assignee_id: str | None,
        team_id: str | None = None,
        set_team: bool = False,
        actor: Principal | None,
    ) -> Conversation:
        """Give the conversation to `assignee_id` (None: nobody) and, with `set_team`, to
        `team_id` (None: no team)."""
        before = await existing_conversation(self._conversations, conversation_id)
        if assignee_id is not None:
            await self._agents.check(assignee_id)
        if set_team and team_id is not None and await self._teams.get(team_id) is None:
            raise UnknownTeam(
                "No team of this tenant has this id.",
                [FieldProblem(("team_id",), "unknown team")],
            )
        after = await changed_or_current(
            self._conversations,
            conversation_id,
            await self._conversations.assign(
                conversation_id, assignee_id=assignee_id, team_id=team_id, team=set_team
            ),
        )
        after = await self._log.changed("conversation.assigned", before, after, actor=actor)
        if after.assignee_id is None:
            return after
        return await self._log.humans_take(
            self._conversations, after, actor=actor, reason="assigned"
        )

    async def assign_if_free(
        self, conversation_id: str, assignee_id: str, *, actor: Principal | None
    ) -> Conversation:
        """Give the conversation to `assignee_id` unless another agent has it (409
        `already_assigned`); the assignee is not checked (the caller vouches for it)."""
        before = await existing_conversation(self._conversations, conversation_id)
        if before.assignee_id == assignee_id:  # theirs already: still taken from the bot
            return await self._log.humans_take(
                self._conversations, before, actor=actor, reason="claimed"
            )
        after = await self._conversations.assign_if_free(conversation_id, assignee_id)
        if after is None:
            await existing_conversation(self._conversations, conversation_id)  # gone: 404
            raise AlreadyAssigned(TAKEN)
        after = await self._log.changed("conversation.claimed", before, after, actor=actor)
        return await self._log.humans_take(
            self._conversations, after, actor=actor, reason="claimed"
        )


class AssignConversation:
    """Assign, unassign or transfer a conversation (`inbox:write`); see
    `ConversationAssigner` for the rules."""

    def __init__(self, assigner: ConversationAssigner) -> None:
        self._assigner = assigner

    async def execute(
        self,
        principal: Principal,
        conversation_id: str,
        *,
        assignee_id: str | None,
        team_id: str | None = None,
        set_team: bool = False,
    ) -> Conversation:
        require_permission(principal, Permission.INBOX_WRITE)
        return await self._assigner.assign(
            conversation_id, assignee_id=assignee_id, team_id=team_id, set_team=set_team,
            actor=principal,
        )  # fmt: skip


class ClaimConversation:
    """Take a conversation for oneself (`inbox:write`): atomic, so of two agents claiming
    at once one wins and the other gets 409 `already_assigned`; claiming one's own
    conversation again changes nothing."""

    def __init__(self, assigner: ConversationAssigner) -> None:
        self._assigner = assigner

    async def execute(self, principal: Principal, conversation_id: str) -> Conversation:
        require_permission(principal, Permission.INBOX_WRITE)
        return await self._assigner.assign_if_free(
            conversation_id, principal.user_id, actor=principal
        )
