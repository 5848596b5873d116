"""The providers' webhooks (`/api/v1/webhooks/...`): public, signed by the provider.

No bearer token and no tenant header: the tenant is the channel's (found by the channel
id in the URL, or on the platform's webhook by each item's account). The tenant middleware
leaves these paths alone; their bodies have their own limit (`MAX_WEBHOOK_BODY_BYTES`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from api.domain.messaging.channels import ChannelType
from api.interfaces.http.deps import Inject
from api.interfaces.http.middleware.body_limit import BodyLimit, body_limit
from api.interfaces.http.openapi import NO_TENANT
from api.interfaces.http.problems import problem_responses
from api.usecases.messaging.ingest_webhook import IngestWebhook
from api.usecases.messaging.verify_webhook import VerifyWebhook

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

Mode = Annotated[str | None, Query(alias="hub.mode")]
Token = Annotated[str | None, Query(alias="hub.verify_token")]
Challenge = Annotated[str | None, Query(alias="hub.challenge")]
Signature = Annotated[str | None, Header(alias="X-Hub-Signature-256")]
CHALLENGE_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {"schema": {"type": "string"}}}}
}
VERIFY_DOC = (
    "Meta's subscription check: `hub.mode=subscribe` with the right `hub.verify_token` "
    "answers the `hub.challenge` as text/plain; a wrong token is 403."
)
RECEIVE_DOC = (
    "A delivery of Meta's webhook. `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw "
    "body>` is checked in constant time (missing 401, wrong 403); a body that is not a "
    'JSON object is 400, one over `MAX_WEBHOOK_BODY_BYTES` 413. 200 `{"status": '
    '"received"}` once the raw delivery is stored; its items are processed by a job, each '
    "once, however often Meta delivers it."
)


class Received(BaseModel):
    status: str = "received"


def channel_routes(
    router: APIRouter, type: ChannelType, label: str, *, name: str, receive_doc: str
) -> None:
    """A channel's Meta webhook, `GET` (verification) and `POST` (deliveries) on
    `/{type}/{channel_id}`: WhatsApp's, Messenger's and Instagram's differ only by their
    type, label, route name (`verify_<name>`, `receive_<name>`) and what the receiving
    route says of its items."""

    @router.get(
        f"/{type.value}/{{channel_id}}",
        summary=f"Verify a channel's {label} webhook",
        name=f"verify_{name}",
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
        name=f"receive_{name}",
        description=RECEIVE_DOC + receive_doc,
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


channel_routes(
    router, ChannelType.WHATSAPP, "WhatsApp", name="channel",
    receive_doc=" Signed with the channel's app secret, or `WHATSAPP_APP_SECRET` when it has "
    "none; an unknown channel is 404.",
)  # fmt: skip


@router.post(
    "/telegram/{channel_id}",
    summary="Receive a Telegram bot's updates",
    description=(
        "The bot's webhook, registered by Parley with `setWebhook`. "
        "`X-Telegram-Bot-Api-Secret-Token` must be the channel's secret token, compared in "
        "constant time (missing or wrong 403); an unknown channel is 404; a body that is "
        'not a JSON object 400, one over `MAX_WEBHOOK_BODY_BYTES` 413. 200 `{"status": '
        '"received"}` once the raw update is stored; a job processes it, once per '
        "`update_id` however often Telegram delivers it."
    ),
    responses=problem_responses(400, 403, 404, 413, 503),
    openapi_extra=NO_TENANT,
)
@body_limit(BodyLimit.WEBHOOK)
async def receive_telegram(
    channel_id: str,
    request: Request,
    use_case: Annotated[IngestWebhook, Inject(IngestWebhook)],
    secret_token: Annotated[str | None, Header(alias="X-Telegram-Bot-Api-Secret-Token")] = None,
) -> Received:
    await use_case.execute(
        ChannelType.TELEGRAM, channel_id, await request.body(), None, secret_token=secret_token
    )
    return Received()


def platform_routes(
    router: APIRouter, type: ChannelType, label: str, *, name: str, settings: str, routing: str
) -> None:
    """The platform's own Meta app's webhook of a type, `GET` (verification, with
    `{settings}_VERIFY_TOKEN`) and `POST` (deliveries signed with `{settings}_APP_SECRET`,
    each item routed to its account's channel, as `routing` says) on `/{type}`; the routes
    are `verify_<name>` and `receive_<name>`."""

    @router.get(
        f"/{type.value}",
        summary=f"Verify the platform app's {label} webhook",
        name=f"verify_{name}",
        description=VERIFY_DOC + f" Uses `{settings}_VERIFY_TOKEN` (404 when it is not set).",
        response_class=PlainTextResponse,
        responses={**problem_responses(403, 404, 503), **CHALLENGE_DOC},
        openapi_extra=NO_TENANT,
    )
    async def verify(
        use_case: Annotated[VerifyWebhook, Inject(VerifyWebhook)],
        mode: Mode = None,
        token: Token = None,
        challenge: Challenge = None,
    ) -> PlainTextResponse:
        answer = await use_case.execute(type, None, mode=mode, token=token, challenge=challenge)
        return PlainTextResponse(answer)

    @router.post(
        f"/{type.value}",
        summary=f"Receive the platform app's {label} webhook",
        name=f"receive_{name}",
        description=RECEIVE_DOC
        + f" Signed with `{settings}_APP_SECRET` (404 when it is not set). {routing}",
        responses=problem_responses(400, 401, 403, 404, 413, 503),
        openapi_extra=NO_TENANT,
    )
    @body_limit(BodyLimit.WEBHOOK)
    async def receive(
        request: Request,
        use_case: Annotated[IngestWebhook, Inject(IngestWebhook)],
        signature: Signature = None,
    ) -> Received:
        await use_case.execute(type, None, await request.body(), signature)
        return Received()


platform_routes(
    router, ChannelType.WHATSAPP, "WhatsApp", name="platform", settings="WHATSAPP",
    routing="Each item goes to the connected channel of its `metadata.phone_number_id`, in "
    "that channel's tenant; items of unknown numbers are stored and ignored.",
)  # fmt: skip
