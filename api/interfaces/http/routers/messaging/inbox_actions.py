"""The shared inbox, agents' actions on a conversation (`/api/v1/conversations/{id}/...`):
assign, claim, resolve, reopen, snooze, tags, priority and private notes. Each needs
`inbox:write`, is audited and pushed to agents in real time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.inbox import InboxConversationOut, InboxMessageOut
from api.interfaces.http.schemas.inbox_actions import (
    AssignIn,
    ConversationPatchIn,
    HandoffIn,
    NoteIn,
    SnoozeIn,
    TagsIn,
)
from api.usecases.messaging.add_private_note import AddPrivateNote
from api.usecases.messaging.assign_conversation import AssignConversation, ClaimConversation
from api.usecases.messaging.bot_handoff import HandBackToBot, HandOverToHumans
from api.usecases.messaging.conversation_labels import PrioritizeConversation, TagConversation
from api.usecases.messaging.conversation_status import (
    ReopenConversation,
    ResolveConversation,
    SnoozeConversation,
)

router = APIRouter(prefix="/conversations", tags=["inbox"])

Writer = Annotated[Principal, require(Permission.INBOX_WRITE)]
PUSHED = (
    " Audited; agents get `conversation.updated` (nothing happens when nothing changes). "
    "Another tenant's conversation is 404."
)


@router.post(
    "/{conversation_id}/assign",
    summary="Assign, unassign or transfer a conversation",
    description=(
        "Needs `inbox:write`. `assignee_id`: an active user of the tenant who can read the "
        "inbox (else 422 `invalid_assignee`), or null to unassign. `team_id`: one of the "
        "tenant's teams (else 422 `unknown_team`), null to take the team off; absent "
        "leaves the team. Transfer is assigning to another agent or team. Audited "
        "`conversation.assigned`." + PUSHED
    ),
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def assign(
    conversation_id: str,
    body: Annotated[AssignIn, Body()],
    principal: Writer,
    use_case: Annotated[AssignConversation, Inject(AssignConversation)],
) -> InboxConversationOut:
    conversation = await use_case.execute(
        principal, conversation_id,
        assignee_id=body.assignee_id, team_id=body.team_id, set_team=body.sets_team,
    )  # fmt: skip
    return InboxConversationOut.of(conversation)


@router.post(
    "/{conversation_id}/claim",
    summary="Claim a conversation",
    description=(
        "Needs `inbox:write`. Assigns the conversation to the caller if nobody has it: of "
        "agents claiming at once one wins, the others get 409 `already_assigned` (as does "
        "claiming another agent's conversation); claiming one's own changes nothing. "
        "Audited `conversation.claimed`." + PUSHED
    ),
    responses=problem_responses(401, 403, 404, 409, 503),
)
async def claim(
    conversation_id: str,
    principal: Writer,
    use_case: Annotated[ClaimConversation, Inject(ClaimConversation)],
) -> InboxConversationOut:
    return InboxConversationOut.of(await use_case.execute(principal, conversation_id))


@router.post(
    "/{conversation_id}/resolve",
    summary="Resolve a conversation",
    description=(
        "Needs `inbox:write`. Status `resolved` (snooze cleared); the contact's next "
        "message opens a new conversation. Audited `conversation.resolved`." + PUSHED
    ),
    responses=problem_responses(401, 403, 404, 503),
)
async def resolve(
    conversation_id: str,
    principal: Writer,
    use_case: Annotated[ResolveConversation, Inject(ResolveConversation)],
) -> InboxConversationOut:
    return InboxConversationOut.of(await use_case.execute(principal, conversation_id))


@router.post(
    "/{conversation_id}/reopen",
    summary="Reopen a conversation",
    description=(
        "Needs `inbox:write`. Status `open` (snooze cleared). A resolved conversation whose "
        "contact has since opened another one on the channel is 409 "
        "`unresolved_conversation_exists`: work in that one. Audited "
        "`conversation.reopened`." + PUSHED
    ),
    responses=problem_responses(401, 403, 404, 409, 503),
)
async def reopen(
    conversation_id: str,
    principal: Writer,
    use_case: Annotated[ReopenConversation, Inject(ReopenConversation)],
) -> InboxConversationOut:
    return InboxConversationOut.of(await use_case.execute(principal, conversation_id))


@router.post(
    "/{conversation_id}/snooze",
    summary="Snooze a conversation",
    description=(
        "Needs `inbox:write`. Status `snoozed` until `until` (ISO 8601 with an offset; in "
        "the future and within a year, else 422 `snooze_not_in_future`); a resolved "
        "conversation is 409 `conversation_resolved`. It is `open` again when the time "
        "comes (a periodic job) or when the contact writes. Audited "
        "`conversation.snoozed`." + PUSHED
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def snooze(
    conversation_id: str,
    body: Annotated[SnoozeIn, Body()],
    principal: Writer,
    use_case: Annotated[SnoozeConversation, Inject(SnoozeConversation)],
) -> InboxConversationOut:
    return InboxConversationOut.of(await use_case.execute(principal, conversation_id, body.until))


@router.put(
    "/{conversation_id}/tags",
    summary="Replace a conversation's tags",
    description=(
        "Needs `inbox:write`. Tags are trimmed, inner spaces collapsed, lower case and "
        "kept once; at most 20 of 1 to 50 characters (422). `?tag=` filters by them. "
        "Audited `conversation.tagged`." + PUSHED
    ),
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def set_tags(
    conversation_id: str,
    body: Annotated[TagsIn, Body()],
    principal: Writer,
    use_case: Annotated[TagConversation, Inject(TagConversation)],
) -> InboxConversationOut:
    return InboxConversationOut.of(await use_case.execute(principal, conversation_id, body.tags))


@router.patch(
    "/{conversation_id}",
    summary="Change a conversation's priority",
    description=(
        "Needs `inbox:write`. `priority`: `low`, `normal`, `high` or `urgent`. Audited "
        "`conversation.priority_changed`." + PUSHED
    ),
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def change(
    conversation_id: str,
    body: Annotated[ConversationPatchIn, Body()],
    principal: Writer,
    use_case: Annotated[PrioritizeConversation, Inject(PrioritizeConversation)],
) -> InboxConversationOut:
    assert body.priority is not None  # noqa: S101 - the schema requires it
    return InboxConversationOut.of(
        await use_case.execute(principal, conversation_id, body.priority)
    )


@router.post(
    "/{conversation_id}/notes",
    status_code=201,
    summary="Write a private note",
    description=(
        "Needs `inbox:write`. A message with `private: true`, type `note`, direction "
        "`outbound`, sender the agent and status `received`: seen by agents only, never "
        "sent to the contact, and changing nothing of the conversation. 1 to 4096 "
        "characters (422). Agents get `message.created`; audited `conversation.note_added` "
        "(without the text). Another tenant's conversation is 404."
    ),
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def add_note(
    conversation_id: str,
    body: Annotated[NoteIn, Body()],
    principal: Writer,
    use_case: Annotated[AddPrivateNote, Inject(AddPrivateNote)],
) -> InboxMessageOut:
    return InboxMessageOut.of(await use_case.execute(principal, conversation_id, body.body))


@router.post(
    "/{conversation_id}/handoff",
    summary="Hand a bot conversation over to humans",
    description=(
        "Needs `inbox:write`. The AI assistant stops answering: `handled_by` becomes "
        "`human`, status `open`, and the inbox's auto-assignment rule picks an agent. "
        "Humans having it already changes nothing; a resolved conversation is 409 "
        "`conversation_resolved`. Audited `conversation.handed_off` with the `reason`." + PUSHED
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def hand_off(
    conversation_id: str,
    principal: Writer,
    use_case: Annotated[HandOverToHumans, Inject(HandOverToHumans)],
    body: Annotated[HandoffIn | None, Body()] = None,
) -> InboxConversationOut:
    conversation = await use_case.execute(
        principal, conversation_id, reason=body.reason if body else None
    )
    return InboxConversationOut.of(conversation)


@router.post(
    "/{conversation_id}/bot",
    summary="Hand a conversation back to the AI assistant",
    description=(
        "Needs `inbox:write`. `handled_by` becomes `bot`, status `pending`, unassigned; the "
        "channel's assistant answers the customer's next messages. 409 `no_assistant` when "
        "no enabled assistant answers on the conversation's channel, 409 "
        "`conversation_resolved` for a resolved one. Audited `conversation.handed_to_bot`." + PUSHED
    ),
    responses=problem_responses(401, 403, 404, 409, 503),
)
async def hand_to_bot(
    conversation_id: str,
    principal: Writer,
    use_case: Annotated[HandBackToBot, Inject(HandBackToBot)],
) -> InboxConversationOut:
    return InboxConversationOut.of(await use_case.execute(principal, conversation_id))
