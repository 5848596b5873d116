"""Listing the shared inbox's conversations, newest activity first, by cursor."""

from __future__ import annotations

from api.domain.errors import FieldProblem, InvalidInput
from api.domain.identity.auth import Principal
from api.domain.messaging.channels import ChannelType
from api.domain.messaging.conversations import (
    ConversationPage,
    ConversationQuery,
    ConversationRepository,
    ConversationStatus,
)
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission
from api.usecases.messaging.inbox_actions import normalized_tag
from api.usecases.messaging.inbox_reads import bounded

ME = "me"
NOBODY = "none"
MAX_SEARCH_LENGTH = 100


class ListConversations:
    """The tenant's conversations (`inbox:read`), narrowed by status, channel, kind of
    channel, assignee
    (an id, `me` or `none`), team, department, tag (normalised as tags are) and `text` (a
    piece of the contact's name or phone number, at most 100 characters). Filters
    combine; the cursor pages through what they select. A department-limited user sees
    only their departments' conversations (the repository's scope)."""

    def __init__(self, conversations: ConversationRepository) -> None:
        self._conversations = conversations

    async def execute(
        self,
        principal: Principal,
        *,
        status: ConversationStatus | None = None,
        channel_id: str | None = None,
        channel_type: ChannelType | None = None,
        assignee_id: str | None = None,
        team_id: str | None = None,
        department_id: str | None = None,
        tag: str | None = None,
        text: str | None = None,
        cursor: str | None = None,
        limit: int = 20,
    ) -> ConversationPage:
        require_permission(principal, Permission.INBOX_READ)
        if text is not None and not 1 <= len(text.strip()) <= MAX_SEARCH_LENGTH:
            raise InvalidInput(
                "The search text has 1 to 100 characters.",
                [FieldProblem(("q",), "1 to 100 characters")],
            )
        query = ConversationQuery(
            status=status,
            channel_id=channel_id,
            channel_type=channel_type,
            assignee_id=principal.user_id if assignee_id == ME else assignee_id,
            unassigned=assignee_id == NOBODY,
            team_id=team_id,
            department_id=department_id,
            tag=normalized_tag(tag) if tag is not None else None,
            text=text.strip() if text is not None else None,
        )
        if query.unassigned:
            query = query.model_copy(update={"assignee_id": None})
        return await self._conversations.search(query, cursor=cursor, limit=bounded(limit))
