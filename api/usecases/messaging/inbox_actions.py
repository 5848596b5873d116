"""What every action of the shared inbox shares: the tenant's agents, tag rules, and the
tail of each change (audited, then pushed to agents as `conversation.updated`)."""

from __future__ import annotations

from typing import Any

from api.domain.errors import FieldProblem, InvalidInput, NotFound
from api.domain.identity.auth import Principal
from api.domain.identity.roles import RoleRepository
from api.domain.identity.users import UserRepository
from api.domain.messaging.conversations import (
    Conversation,
    ConversationRepository,
    HandledBy,
)
from api.domain.messaging.errors import InvalidAssignee
from api.domain.messaging.realtime import InboxEvent, InboxEvents, InboxEventType
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.kernel.authority import RoleBook, audit_extra
from api.usecases.messaging.inbox_reads import CONVERSATION_NOT_FOUND

MAX_TAGS = 20
MAX_TAG_LENGTH = 50
AUDITED = (
    "status", "priority", "assignee_id", "team_id", "tags", "snoozed_until", "handled_by",
    "department_id",
)  # fmt: skip


def normalized_tag(raw: str) -> str:
    """A tag as stored and filtered by: trimmed, inner spaces collapsed, lower case."""
    return " ".join(raw.split()).casefold()


def normalized_tags(raw: list[str]) -> list[str]:
    """The tags normalised, each once, in their first order; `InvalidInput` for an empty
    or too long tag or too many tags."""
    tags = list(dict.fromkeys(normalized_tag(t) for t in raw))
    problems = [
        FieldProblem(("tags", i), f"a tag has 1 to {MAX_TAG_LENGTH} characters")
        for i, tag in enumerate(tags)
        if not 1 <= len(tag) <= MAX_TAG_LENGTH
    ]
    if len(tags) > MAX_TAGS:
        problems.append(FieldProblem(("tags",), f"at most {MAX_TAGS} tags"))
    if problems:
        raise InvalidInput("The tags are not valid.", problems)
    return tags


class InboxAgents:
    """Who may be given conversations: active users of the tenant holding `inbox:read`
    through their roles now (also what auto-assignment checks)."""

    def __init__(self, users: UserRepository, roles: RoleRepository) -> None:
        self._users = users
        self._roles = roles

    async def is_agent(self, user_id: str) -> bool:
        user = await self._users.get(user_id)
        if user is None or not user.is_active:
            return False
        return Permission.INBOX_READ in RoleBook(await self._roles.all()).effective(user.role_ids)

    async def check(self, user_id: str) -> None:
        """`InvalidAssignee` unless `user_id` is one of the tenant's agents."""
        if not await self.is_agent(user_id):
            raise InvalidAssignee(
                "The assignee must be an active user of this tenant who can read the inbox.",
                [FieldProblem(("assignee_id",), "not an agent of this tenant")],
            )


class InboxChangeLog:
    """The tail of every inbox action that changed a conversation: an audit entry
    `conversation.<verb>` with what changed (by `actor`, None for the system), then
    `conversation.updated` to agents. Nothing when nothing changed."""

    def __init__(self, auditor: Auditor, events: InboxEvents) -> None:
        self._auditor = auditor
        self._events = events

    async def changed(
        self,
        action: str,
        before: Conversation,
        after: Conversation,
        *,
        actor: Principal | None,
        extra: dict[str, Any] | None = None,
    ) -> Conversation:
        changes = diff(
            before.model_dump(mode="json", include=set(AUDITED)),
            after.model_dump(mode="json", include=set(AUDITED)),
        )
        if not changes:
            return after
        changes.update(extra or {})
        await self._auditor.record(
            action, "conversation", after.id,
            actor_id=actor.user_id if actor else None,
            changes=audit_extra(actor, changes) if actor else changes,
        )  # fmt: skip
        await self._events.publish(
            InboxEvent.of_conversation(InboxEventType.CONVERSATION_UPDATED, after)
        )
        return after

    async def humans_take(
        self,
        conversations: ConversationRepository,
        conversation: Conversation,
        *,
        actor: Principal | None,
        reason: str,
    ) -> Conversation:
        """A person took a conversation the AI assistant handles (it was assigned to an
        agent, claimed, or an agent answered in it): humans handle it from now on, `open`
        (the assistant's answer in flight is dropped: it checks before it sends), audited
        `conversation.handed_off` with `reason`. As it is when humans have it already."""
        if conversation.handled_by is not HandledBy.BOT or conversation.id is None:
            return conversation
        changed = await conversations.hand_over(conversation.id, HandledBy.HUMAN)
        if changed is None:  # humans took it meanwhile (or it was resolved)
            return await changed_or_current(conversations, conversation.id, None)
        return await self.changed(
            "conversation.handed_off", conversation, changed, actor=actor,
            extra={"reason": reason},
        )  # fmt: skip


async def changed_or_current(
    conversations: ConversationRepository, conversation_id: str, result: Conversation | None
) -> Conversation:
    """`result`, or (a conditional update that did not apply) the conversation as it is
    now; `NotFound` when there is none."""
    if result is not None:
        return result
    current = await conversations.get(conversation_id)
    if current is None:
        raise NotFound(CONVERSATION_NOT_FOUND)
    return current
