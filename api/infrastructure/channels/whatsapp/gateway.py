"""`ChannelGateway` for one WhatsApp Cloud API number, over a `pywa_async` client (and, for
message sends, the number's `GraphSender` over aiohttp).

The client's calls go to `{graph_base_url}/{api_version}` (Meta's, or a local fake in
tests) with the channel's bearer token. Every failure leaves as a provider-neutral
channel error (see `errors`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
from pywa_async.client import WhatsApp
from pywa_async.errors import WhatsAppError

from api.domain.messaging.channels import ChannelProfile, WhatsAppSettings
from api.domain.messaging.content import OutboundMessage, SendResult
from api.domain.messaging.errors import ChannelPermanentFailure, ChannelTransientFailure
from api.domain.messaging.gateway import (
    MediaDownload,
    ProviderTemplate,
    TemplateDraft,
    TemplateSubmitted,
)
from api.infrastructure.channels.provider import DashboardWebhook, UnansweredPresses
from api.infrastructure.channels.whatsapp.errors import from_graph_error, from_transport_error
from api.infrastructure.channels.whatsapp.requests import message_object, template_object
from api.infrastructure.channels.whatsapp.sender import GraphSender

# pywa logs request bodies (message text) and responses at DEBUG: never let them out.
logging.getLogger("pywa").setLevel(logging.INFO)
logging.getLogger("pywa_async").setLevel(logging.INFO)

PROFILE_FIELDS = ("display_phone_number", "verified_name", "quality_rating")
TEMPLATE_PAGE_SIZE = 100
MAX_TEMPLATE_PAGES = 100
MEDIA_CHUNK_BYTES = 64 * 1024

T = TypeVar("T")


def build_client(
    settings: WhatsAppSettings, token: str, *, timeout_seconds: float, max_connections: int
) -> tuple[WhatsApp, httpx.AsyncClient]:
    """A pywa client with its own httpx pool, aimed at the channel's Graph base URL."""
    session = httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 10.0)),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=20),
    )
    client = WhatsApp(
        phone_id=settings.phone_number_id,
        token=token,
        session=session,
        waba_id=settings.waba_id,
        api_version=settings.api_version.removeprefix("v"),
        validate_updates=False,
        filter_updates=False,
    )
    # pywa aims at https://graph.facebook.com/v{version}; the channel may name another base.
    session.base_url = httpx.URL(f"{settings.graph_base_url}/{settings.api_version}")
    return client, session


class WhatsAppGateway(DashboardWebhook, UnansweredPresses):
    """One number's calls. Cheap to build: the client (and its pool) is shared."""

    def __init__(
        self,
        settings: WhatsAppSettings,
        client: WhatsApp,
        session: httpx.AsyncClient,
        token: str,
        sender: GraphSender,
    ) -> None:
        self._settings = settings
        self._client = client
        self._session = session
        self._secrets = (token,)
        self._sender = sender

    async def check(self) -> ChannelProfile:
        found = await self._call(
            self._client.api.get_business_phone_number(
                self._settings.phone_number_id, fields=PROFILE_FIELDS
            )
        )
        return ChannelProfile(**{k: found.get(k) for k in PROFILE_FIELDS})

    async def send(self, message: OutboundMessage) -> SendResult:
        kind, body = message_object(message.content)
        recipient = message.recipient
        request: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "type": kind,
            kind: body,
        }  # pywa's `send_message` body, without its None fields
        if recipient.phone:
            request["to"] = _digits(recipient.phone)
        else:
            request["recipient"] = recipient.user_id
        if message.reply_to:
            request["context"] = {"message_id": message.reply_to}
        if message.tracker:
            request["biz_opaque_callback_data"] = message.tracker
        answer = await self._sender.post(f"/{self._settings.phone_number_id}/messages", request)
        messages = answer.get("messages") or [{}]
        contacts = answer.get("contacts") or [{}]
        external_id = messages[0].get("id")
        if not external_id:
            raise ChannelPermanentFailure("WhatsApp accepted the message without an id.")
        return SendResult(
            external_id=external_id,
            recipient_phone=contacts[0].get("wa_id"),
            recipient_user_id=contacts[0].get("user_id"),
        )

    async def mark_read(
        self, external_id: str, *, user_id: str | None = None, typing: bool = False
    ) -> None:
        phone_id = self._settings.phone_number_id
        if typing:
            await self._call(self._client.api.set_indicator(phone_id, external_id, "text"))
        else:
            await self._call(self._client.api.mark_message_as_read(phone_id, external_id))

    @asynccontextmanager
    async def open_media(self, media_id: str) -> AsyncIterator[MediaDownload]:
        found = await self._call(self._client.api.get_media_url(media_id))
        url = found.get("url")
        if not url:
            raise ChannelPermanentFailure("WhatsApp gave no download URL for this media.")
        try:
            async with self._client.api.stream_media_bytes(url) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise self._failure_of(response)
                yield MediaDownload(
                    media_id=media_id,
                    content_type=found.get("mime_type"),
                    size=found.get("file_size"),
                    sha256=found.get("sha256"),
                    chunks=response.aiter_bytes(MEDIA_CHUNK_BYTES),
                )
        except httpx.HTTPError as exc:
            raise from_transport_error(exc) from None

    async def list_templates(self) -> list[ProviderTemplate]:
        found: list[ProviderTemplate] = []
        pagination: dict[str, Any] = {"limit": TEMPLATE_PAGE_SIZE}
        for _ in range(MAX_TEMPLATE_PAGES):
            page = await self._call(
                self._client.api.get_templates(self._settings.waba_id, pagination=pagination)
            )
            found.extend(_template(item) for item in page.get("data") or [])
            after = ((page.get("paging") or {}).get("cursors") or {}).get("after")
            if not after or not (page.get("paging") or {}).get("next"):
                break
            pagination = {"limit": TEMPLATE_PAGE_SIZE, "after": after}
        return found

    async def create_template(self, draft: TemplateDraft) -> TemplateSubmitted:
        answer = await self._call(
            self._client.api.create_template(
                self._settings.waba_id,
                template_object(
                    draft.name,
                    draft.language,
                    draft.category,
                    draft.components,
                    parameter_format=draft.parameter_format,
                ),
            )
        )
        return TemplateSubmitted(
            external_id=str(answer.get("id") or ""),
            status=str(answer.get("status") or "PENDING"),
            category=answer.get("category"),
        )

    async def delete_template(self, name: str, external_id: str | None) -> None:
        # DELETE /{waba_id}/message_templates?name=..&hsm_id=.. (one language by its id)
        await self._call(
            self._client.api.delete_template(
                self._settings.waba_id, template_name=name, template_id=external_id
            )
        )

    async def _call(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except WhatsAppError as exc:
            raise from_graph_error(exc, secrets=self._secrets) from None
        except httpx.HTTPError as exc:
            raise from_transport_error(exc) from None
        except ValueError as exc:  # a 2xx answer that is not JSON
            raise from_transport_error(httpx.DecodingError(str(exc))) from None
        except RuntimeError:
            if self._session.is_closed:  # replaced (token rotated) or shut down
                raise ChannelTransientFailure("The channel's client was replaced.") from None
            raise

    def _failure_of(self, response: httpx.Response) -> Exception:
        try:
            error = response.json()["error"]
            return from_graph_error(
                WhatsAppError.from_dict(error=error, response=response), secrets=self._secrets
            )
        except (ValueError, KeyError, TypeError):
            return from_transport_error(
                httpx.HTTPStatusError("media", request=response.request, response=response)
            )


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def _template(item: dict[str, Any]) -> ProviderTemplate:
    return ProviderTemplate(
        external_id=str(item.get("id", "")),
        name=str(item.get("name", "")),
        language=str(item.get("language", "")),
        status=str(item.get("status", "")),
        category=item.get("category"),
        components=list(item.get("components") or []),
        quality=(item.get("quality_score") or {}).get("score"),
        rejected_reason=item.get("rejected_reason"),
        parameter_format=item.get("parameter_format"),
    )
