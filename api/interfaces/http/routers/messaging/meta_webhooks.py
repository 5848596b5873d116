"""Messenger's and Instagram's webhooks (`/api/v1/webhooks/messenger|instagram/...`: a
channel's, and the platform Meta app's, whose entries are routed by account) and
Instagram's data deletion callback: public, signed by Meta like WhatsApp's; the tenant is
the channel's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request

from api.domain.errors import MalformedRequest
from api.domain.messaging.channels import ChannelType
from api.interfaces.http.deps import Inject
from api.interfaces.http.middleware.body_limit import BodyLimit, body_limit
from api.interfaces.http.openapi import NO_TENANT
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.routers.messaging.webhooks import channel_routes, platform_routes
from api.usecases.messaging.data_deletion import (
    DeletionConfirmation,
    DeletionStatusView,
    GetDataDeletionStatus,
    HandleDataDeletion,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
_ITEMS = (
    " Items (`entry[].messaging[]`): messages (text, image, video, audio, file; Instagram "
    "story replies and mentions), reactions, edits, deletions, postbacks, deliveries and "
    "reads, and `is_echo` echoes of the business's own sends (Parley's own are matched by "
    "`mid` and not stored twice; others are kept as outbound messages sent from outside "
    "Parley)."
)
_SIGNED = " Signed with the channel's app secret; an unknown channel is 404."


for _type, _label, _account in (
    (ChannelType.MESSENGER, "Messenger", "Page"),
    (ChannelType.INSTAGRAM, "Instagram", "Instagram account"),
):
    channel_routes(
        router, _type, _label, name=f"{_type.value}_channel", receive_doc=_ITEMS + _SIGNED
    )
    platform_routes(
        router, _type, _label, name=f"{_type.value}_platform", settings="META",
        routing=f"Each entry goes to the connected {_label} channel of its `entry[].id` (the "
        f"{_account} id), in that channel's tenant; entries of unknown accounts are stored "
        "and ignored." + _ITEMS,
    )  # fmt: skip


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
