"""Routing a conversation to a department (CRM), or taking it off its department.

Rules: `inbox:write`; the conversation must be visible to the caller (another tenant's,
or for a department-limited user one outside their departments, is 404); the department
must be one of the tenant's (404 `department_not_found`); a department-limited user may
only route to one of their own departments (403; taking it off every department would
hide it from them, so that is refused too). Audited `conversation.routed` with the
department before and after; agents get `conversation.updated`. A routed conversation
that is unresolved, unassigned and handled by humans (not the assistant) is then offered
to auto-assignment, which picks among the department's members (best effort: the
routing stands if that fails).
"""

from __future__ import annotations

import logging

from api.domain.departments import DepartmentNotFound, DepartmentRepository
from api.domain.errors import Forbidden
from api.domain.identity.auth import Principal
from api.domain.messaging.conversations import (
    Conversation,
    ConversationRepository,
    ConversationStatus,
    HandledBy,
)
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission
from api.usecases.messaging.auto_assign import AutoAssignConversation
from api.usecases.messaging.inbox_actions import InboxChangeLog, changed_or_current
from api.usecases.messaging.inbox_reads import existing_conversation

log = logging.getLogger(__name__)
OUTSIDE_SCOPE = "You may only route conversations to your own departments."


class RouteConversationToDepartment:
    """See the module's rules."""

    def __init__(
        self,
        conversations: ConversationRepository,
        departments: DepartmentRepository,
        change_log: InboxChangeLog,
        auto_assign: AutoAssignConversation,
    ) -> None:
        self._conversations = conversations
        self._departments = departments
        self._log = change_log
        self._auto_assign = auto_assign

    async def execute(
        self, principal: Principal, conversation_id: str, department_id: str | None
    ) -> Conversation:
        require_permission(principal, Permission.INBOX_WRITE)
        before = await existing_conversation(self._conversations, conversation_id)
        if department_id is not None and await self._departments.get(department_id) is None:
            raise DepartmentNotFound("No department of this tenant has this id.")
        limited = principal.departments
        if limited is not None and (department_id is None or department_id not in limited):
            raise Forbidden(OUTSIDE_SCOPE)
        if before.department_id == department_id:
            return before
        after = await changed_or_current(
            self._conversations,
            conversation_id,
            await self._conversations.set_department(conversation_id, department_id),
        )
        after = await self._log.changed("conversation.routed", before, after, actor=principal)
        if (
            department_id is not None
            and after.assignee_id is None
            and after.status is not ConversationStatus.RESOLVED
            and after.handled_by is HandledBy.HUMAN  # the bot's stays the bot's
        ):
            try:
                after = await self._auto_assign.execute(after) or after
            except Exception:  # best effort, see the module docstring
                log.exception("auto-assignment of routed conversation %s failed", after.id)
        return after
