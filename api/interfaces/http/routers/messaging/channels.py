"""The tenant's messaging channels (`/api/v1/channels`): connect a WhatsApp number, a
Telegram bot, a Facebook Page (Messenger) or an Instagram account, list, read, change
(rename, rotate the token, rate) and disconnect."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from api.domain.identity.auth import Principal
from api.domain.messaging.channels import ChannelStatus, ChannelType
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.messaging import (
    ChannelOut,
    ChannelPageOut,
    ChannelUpdateIn,
    InstagramChannelIn,
    MessengerChannelIn,
    TelegramChannelIn,
    WhatsAppChannelIn,
)
from api.interfaces.http.schemas.paging import PagingQuery
from api.usecases.messaging.connect_meta_channels import (
    ConnectInstagramChannel,
    ConnectMessengerChannel,
)
from api.usecases.messaging.connect_telegram_channel import ConnectTelegramChannel
from api.usecases.messaging.connect_whatsapp_channel import ConnectWhatsAppChannel
from api.usecases.messaging.disconnect_channel import DisconnectChannel
from api.usecases.messaging.get_channel import GetChannel
from api.usecases.messaging.list_channels import ListChannels
from api.usecases.messaging.update_channel import UpdateChannel

router = APIRouter(prefix="/channels", tags=["channels"])

Reader = Annotated[Principal, require(Permission.CHANNELS_READ)]
Manager = Annotated[Principal, require(Permission.CHANNELS_MANAGE)]
SECRETS_NOTE = (
    " Tokens and secrets are encrypted at rest and never returned (`has_access_token`, "
    "`has_app_secret`)."
)


@router.post(
    "/whatsapp",
    status_code=201,
    summary="Connect a WhatsApp number",
    description=(
        "Needs `channels:manage`. The credentials are checked with the Graph API "
        "(`GET /{api_version}/{phone_number_id}`) before anything is saved: a refusal is "
        "422 `channel_check_failed` with Meta's message (no secret echoed). A "
        "`phone_number_id` already connected, in any tenant, is 409. `api_version`, "
        "`graph_base_url` and `messages_per_second` default to the deployment's "
        "(`WHATSAPP_*`); a `graph_base_url` the deployment does not allow "
        "(`WHATSAPP_ALLOWED_GRAPH_BASE_URLS`) is 422 `graph_base_url_not_allowed`. "
        "`verify_token` is generated when not given. Paste the answer's "
        "`webhook_url` and `verify_token` into Meta's dashboard." + SECRETS_NOTE
    ),
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def connect_whatsapp(
    body: Annotated[WhatsAppChannelIn, Body()],
    principal: Manager,
    use_case: Annotated[ConnectWhatsAppChannel, Inject(ConnectWhatsAppChannel)],
) -> ChannelOut:
    view = await use_case.execute(principal, **body.model_dump())
    return ChannelOut.of(view)


_META_CONNECT = (
    " A refusal is 422 `channel_check_failed` with Meta's message (no secret echoed); an "
    "account already connected, in any tenant, is 409. `api_version`, `graph_base_url` "
    "and `messages_per_second` default to the deployment's (`WHATSAPP_*`: one Graph API); "
    "a `graph_base_url` the deployment does not allow is 422 `graph_base_url_not_allowed`. "
    "`verify_token` is generated when not given. Paste the answer's `webhook_url` and "
    "`verify_token` into the Meta app's Webhooks settings."
)


@router.post(
    "/messenger",
    status_code=201,
    summary="Connect a Facebook Page (Messenger)",
    description=(
        "Needs `channels:manage`. The page access token is checked with the Graph API "
        "(`GET /{api_version}/{page_id}?fields=id,name`) before anything is saved."
        + _META_CONNECT
        + SECRETS_NOTE
    ),
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def connect_messenger(
    body: Annotated[MessengerChannelIn, Body()],
    principal: Manager,
    use_case: Annotated[ConnectMessengerChannel, Inject(ConnectMessengerChannel)],
) -> ChannelOut:
    return ChannelOut.of(await use_case.execute(principal, **body.model_dump()))


@router.post(
    "/instagram",
    status_code=201,
    summary="Connect an Instagram account (Instagram Direct)",
    description=(
        "Needs `channels:manage`. The access token is checked with the Graph API (`GET "
        "/{api_version}/{instagram_account_id}?fields=id,username,name`) before anything is "
        "saved." + _META_CONNECT + " Set the app's data deletion request URL to "
        "`{webhook_url}/data-deletion`." + SECRETS_NOTE
    ),
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def connect_instagram(
    body: Annotated[InstagramChannelIn, Body()],
    principal: Manager,
    use_case: Annotated[ConnectInstagramChannel, Inject(ConnectInstagramChannel)],
) -> ChannelOut:
    return ChannelOut.of(await use_case.execute(principal, **body.model_dump()))


@router.post(
    "/telegram",
    status_code=201,
    summary="Connect a Telegram bot",
    description=(
        "Needs `channels:manage`. The bot token is checked with the Bot API (`getMe`) before "
        "anything is saved: a refusal is 422 `channel_check_failed` (no secret echoed). A bot "
        "already connected, in any tenant, is 409. Parley then registers its webhook "
        "(`setWebhook`, the answer's `webhook_url`, with a random secret token every update "
        "must carry in `X-Telegram-Bot-Api-Secret-Token`). `api_base_url` defaults to "
        "`TELEGRAM_API_BASE_URL` (another must be in `TELEGRAM_ALLOWED_API_BASE_URLS`, else "
        "422 `api_base_url_not_allowed`); `messages_per_second` to "
        "`TELEGRAM_MESSAGES_PER_SECOND`. The channel names the bot (`bot_id`, "
        "`bot_username`)." + SECRETS_NOTE
    ),
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def connect_telegram(
    body: Annotated[TelegramChannelIn, Body()],
    principal: Manager,
    use_case: Annotated[ConnectTelegramChannel, Inject(ConnectTelegramChannel)],
) -> ChannelOut:
    return ChannelOut.of(await use_case.execute(principal, **body.model_dump()))


@router.get(
    "",
    summary="List the tenant's channels",
    description=(
        "Needs `channels:read`. Newest first, disconnected channels included; `type` and "
        "`status` narrow the list." + SECRETS_NOTE
    ),
    responses=problem_responses(401, 403, 422, 503),
)
async def list_channels(
    principal: Reader,
    paging: PagingQuery,
    use_case: Annotated[ListChannels, Inject(ListChannels)],
    type: Annotated[ChannelType | None, Query(description="Only this provider")] = None,
    status: Annotated[ChannelStatus | None, Query(description="Only this status")] = None,
) -> ChannelPageOut:
    found = await use_case.execute(
        principal, type=type, status=status, page=paging.page, page_size=paging.page_size
    )
    return ChannelPageOut.of(found, paging.page, paging.page_size)


@router.get(
    "/{channel_id}",
    summary="Read a channel",
    description="Needs `channels:read`. Another tenant's channel is 404." + SECRETS_NOTE,
    responses=problem_responses(401, 403, 404, 503),
)
async def get_channel(
    channel_id: str,
    principal: Reader,
    use_case: Annotated[GetChannel, Inject(GetChannel)],
) -> ChannelOut:
    return ChannelOut.of(await use_case.execute(principal, channel_id))


@router.patch(
    "/{channel_id}",
    summary="Change a channel",
    description=(
        "Needs `channels:manage`. Rename, rotate the access token (Telegram: `bot_token`), "
        "set or remove (`null`) the app secret, change the verify token, the rate, the Graph "
        "API version or base URL (Telegram: `api_base_url`). A new token, version or base "
        "URL is checked with the provider first (422 `channel_check_failed`), and a "
        "Telegram bot's webhook is registered again through it; a `token_invalid` channel "
        "with a working new token is `active` again; a base URL the deployment does not "
        "allow is 422 `graph_base_url_not_allowed` (`api_base_url_not_allowed`). A "
        "disconnected channel is 409." + SECRETS_NOTE
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def update_channel(
    channel_id: str,
    body: Annotated[ChannelUpdateIn, Body()],
    principal: Manager,
    use_case: Annotated[UpdateChannel, Inject(UpdateChannel)],
) -> ChannelOut:
    return ChannelOut.of(await use_case.execute(principal, channel_id, body.to_changes()))


@router.delete(
    "/{channel_id}",
    status_code=204,
    summary="Disconnect a channel",
    description=(
        "Needs `channels:manage`. Nothing is sent or received through the channel any "
        "more and its secrets are erased; its conversations and messages are kept and the "
        "channel stays listed as `disconnected`. The number can be connected again."
    ),
    responses=problem_responses(401, 403, 404, 503),
)
async def disconnect_channel(
    channel_id: str,
    principal: Manager,
    use_case: Annotated[DisconnectChannel, Inject(DisconnectChannel)],
) -> Response:
    await use_case.execute(principal, channel_id)
    return Response(status_code=204)
