"""Messenger's and Instagram's webhooks (`/api/v1/webhooks/messenger|instagram/...`) and
Instagram's data deletion callback: public, signed by Meta like WhatsApp's; the tenant is
the channel's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from api.domain.errors import MalformedRequest
from api.domain.messaging.channels import ChannelType
from api.interfaces.http.deps import Inject
from api.interfaces.http.middleware.body_limit import BodyLimit, body_limit
from api.interfaces.http.openapi import NO_TENANT
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.routers.messaging.webhooks import (
    CHALLENGE_DOC,
    RECEIVE_DOC,
    VERIFY_DOC,
    Challenge,
    Mode,
    Received,
    Signature,
    Token,
)
from api.usecases.messaging.data_deletion import (
    DeletionConfirmation,
    DeletionStatusView,
    GetDataDeletionStatus,
    HandleDataDeletion,
)
from api.usecases.messaging.ingest_webhook import IngestWebhook
from api.usecases.messaging.verify_webhook import VerifyWebhook

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
_ITEMS = (
    " Items (`entry[].messaging[]`): messages (text, image, video, audio, file; Instagram "
    "story replies and mentions), reactions, edits, deletions, postbacks, deliveries and "
    "reads, and `is_echo` echoes of the business's own sends (Parley's own are matched by "
    "`mid` and not stored twice; others are kept as outbound messages sent from outside "
    "Parley). Signed with the channel's app secret; an unknown channel is 404."
)


def _routes(type: ChannelType, label: str) -> None:
    @router.get(
        f"/{type.value}/{{channel_id}}",
        summary=f"Verify a channel's {label} webhook",
        name=f"verify_{type.value}_channel",
        description=VERIFY_DOC + " Uses the channel's verify token; an unknown channel is 404.",
        response_class=PlainTextResponse,
        responses={**problem_responses(403, 404, 503), **CHALLENGE_DOC},
        openapi_extra=NO_TENANT,
    )
    async def verify(
        channel_id: str,
        use_case: Annotated[VerifyWebhook, Inject(VerifyWebhook)],
        mode: Mode = None,
        token: Token = None,
        challenge: Challenge = None,
    ) -> PlainTextResponse:
        answer = await use_case.execute(
            type, channel_id, mode=mode, token=token, challenge=challenge
        )
        return PlainTextResponse(answer)

    @router.post(
        f"/{type.value}/{{channel_id}}",
        summary=f"Receive a channel's {label} webhook",
        name=f"receive_{type.value}_channel",
        description=RECEIVE_DOC + _ITEMS,
        responses=problem_responses(400, 401, 403, 404, 413, 503),
        openapi_extra=NO_TENANT,
    )
    @body_limit(BodyLimit.WEBHOOK)
    async def receive(
        channel_id: str,
        request: Request,
        use_case: Annotated[IngestWebhook, Inject(IngestWebhook)],
        signature: Signature = None,
    ) -> Received:
        await use_case.execute(type, channel_id, await request.body(), signature)
        return Received()


_routes(ChannelType.MESSENGER, "Messenger")
_routes(ChannelType.INSTAGRAM, "Instagram")


@router.post(
    "/instagram/{channel_id}/data-deletion",
    summary="Instagram's data deletion callback",
    description=(
        "Meta posts `signed_request` (a form field: `<base64url HMAC-SHA256>.<base64url "
        "JSON>`, signed with the channel's app secret) when a person asks for their data to "
        "be deleted. Parley erases that person's contact in the channel's tenant (name, ids, "
        "username, email, attributes, tags; the contact is deleted), blanks it in its "
        "conversations and removes the text and files of every message they sent, then "
        "answers Meta's `{url, confirmation_code}`: `url` is the request's public status "
        "page. A missing or malformed `signed_request` is 400, a wrong signature 403, an "
        "unknown channel 404."
    ),
    responses=problem_responses(400, 403, 404, 413, 503),
    openapi_extra=NO_TENANT,
)
@body_limit(BodyLimit.WEBHOOK)
async def data_deletion(
    channel_id: str,
    request: Request,
    use_case: Annotated[HandleDataDeletion, Inject(HandleDataDeletion)],
) -> DeletionConfirmation:
    try:
        form = await request.form()
    except (ValueError, AssertionError) as exc:
        raise MalformedRequest("The body is not a form.") from exc
    field = form.get("signed_request")
    return await use_case.execute(channel_id, field if isinstance(field, str) else None)


@router.get(
    "/instagram/{channel_id}/data-deletion/{code}",
    summary="Status of an Instagram data deletion request",
    description=(
        "The page a data deletion answer's `url` names (public: the confirmation code is "
        "the credential): the request's status, when it was made and completed, and how "
        "many contacts and messages were erased. An unknown channel or code is 404."
    ),
    responses=problem_responses(404, 503),
    openapi_extra=NO_TENANT,
)
async def data_deletion_status(
    channel_id: str,
    code: str,
    use_case: Annotated[GetDataDeletionStatus, Inject(GetDataDeletionStatus)],
) -> DeletionStatusView:
    return await use_case.execute(channel_id, code)
