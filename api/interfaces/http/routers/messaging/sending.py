"""Sending (`POST /api/v1/messages`): the message is stored `queued` and a job sends it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response, status

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_response_doc, problem_responses
from api.interfaces.http.schemas.inbox import InboxMessageOut
from api.interfaces.http.schemas.sending import MessageSendIn
from api.usecases.messaging.send_message import SendMessage

router = APIRouter(prefix="/messages", tags=["inbox"])

REPLAYED_HEADER = "Idempotent-Replayed"
_UNPROCESSABLE = (
    "Invalid input: `invalid_input` (the body; see `errors`), "
    "`outside_customer_service_window` (a non-template message when the customer has not "
    "written in 24 hours), `idempotency_key_reused` (the key came with another body), "
    "`invalid_recipient` (`to` is not what the channel's type takes: E.164 or a BSUID on "
    "WhatsApp, a chat id on Telegram, a PSID on Messenger, an IGSID on Instagram), "
    "`target_not_sent` (`reply_to` "
    "or the reaction's message has no provider id yet), `template_inactive` (a template "
    "the channel has stored and the tenant deactivated)"
)
_CONFLICT = (
    "`channel_unavailable` (the channel is disconnected or its token stopped working) or "
    "`idempotency_key_in_progress` (a request with this key is still running; retry)"
)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a message",
    description=(
        "Needs `messages:send`. By `conversation_id`, or by `channel_id` + `to` (WhatsApp: "
        "E.164 or BSUID; Telegram: the customer's chat id; Messenger: their PSID; "
        "Instagram: their IGSID; the contact and its conversation are found or created). "
        "`type` names the "
        "object that carries the content: `text`, `template`, `image`/`video`/`audio`/"
        "`document`/`sticker` (`file_id` of one of the tenant's files, sent to the "
        "provider as a signed link, or a public `link`), `location`, `interactive` (Meta's "
        "shape), `reaction` (a Parley message id and an emoji). Answers 202 with the "
        "message `queued`; a job sends it (throughput limits and outages retried with "
        "backoff; a refusal fails it with the provider's code: watch `status` and `error`). "
        "Free-form messages need the 24-hour customer service window open (Meta's channels; "
        "7 days on Messenger and Instagram with the human-agent tag: a customer who never "
        "wrote cannot be messaged there); templates do not. `Idempotency-Key` (kept 24 h "
        "per tenant): the same key and body answer the same message (with "
        "`Idempotent-Replayed: true`). Another tenant's conversation, "
        "channel, file or message is 404."
    ),
    responses={
        **problem_responses(401, 403, 404, 503),
        409: problem_response_doc(409, _CONFLICT),
        422: problem_response_doc(422, _UNPROCESSABLE),
    },
)
async def send_message(
    body: MessageSendIn,
    response: Response,
    principal: Annotated[Principal, require(Permission.MESSAGES_SEND)],
    use_case: Annotated[SendMessage, Inject(SendMessage)],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="Makes retries safe: the same key and body give the same message.",
        ),
    ] = None,
) -> InboxMessageOut:
    queued = await use_case.execute(principal, body.draft(), idempotency_key=idempotency_key)
    if not queued.created:
        response.headers[REPLAYED_HEADER] = "true"
    return InboxMessageOut.of(queued.message)
