"""`ChannelGateway` for one Facebook Page (Messenger) or Instagram professional account,
over the Messenger Platform's Send API (`POST /{version}/{account}/messages`).

- text: `{"text": ...}`; a file by public link: `{"attachment": {"type": image | video |
  audio | file, "payload": {"url", "is_reusable": false}}}` (a caption follows as its own
  text message); by a file Meta already holds: `{"payload": {"attachment_id"}}`.
- a reaction: `sender_action: react` (`unreact` for an empty emoji) on the message's mid;
  Meta answers no mid, so Parley keeps a derived one.
- a reply: `reply_to: {"mid"}`. Messenger carries Parley's message id back in echoes as
  `message.metadata`.
- `messaging_type: RESPONSE` inside the 24-hour window; outside it (a channel with the
  human-agent tag, within 7 days) `MESSAGE_TAG` with `tag: HUMAN_AGENT`.

Templates do not exist there (`TemplatesNotSupported`); locations and interactive
messages cannot be sent (`ChannelPermanentFailure`). Inbound files arrive as Meta CDN
URLs: `open_media` streams the URL itself. `mark_read` marks the customer's conversation
seen (`sender_action: mark_seen`, by the customer's id: Meta marks conversations, not
messages), then, when asked, shows the typing indicator (`typing_on`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from api.domain.messaging.channels import ChannelProfile
from api.domain.messaging.content import (
    MediaContent,
    MediaKind,
    OutboundMessage,
    ReactionContent,
    SendResult,
    TextContent,
)
from api.domain.messaging.errors import ChannelOutcomeUnknown, ChannelPermanentFailure
from api.domain.messaging.gateway import MediaDownload
from api.infrastructure.channels.meta.errors import from_meta_error
from api.infrastructure.channels.provider import DashboardWebhook, NoTemplates, UnansweredPresses
from api.infrastructure.channels.whatsapp.errors import from_transport_error

log = logging.getLogger(__name__)

ATTACHMENT_TYPES = {
    MediaKind.IMAGE: "image",
    MediaKind.VIDEO: "video",
    MediaKind.AUDIO: "audio",
    MediaKind.DOCUMENT: "file",
    MediaKind.STICKER: "image",
}
HUMAN_AGENT = "HUMAN_AGENT"
MEDIA_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class MetaAccount:
    """What the client needs of a channel: `provider` names it in errors ("Messenger",
    "Instagram"); sends go to `/{send_node}/messages`, the credentials check reads
    `/{profile_node}?fields=...`; `base_url` includes the API version."""

    provider: str
    base_url: str
    send_node: str
    profile_node: str
    profile_fields: tuple[str, ...]
    profile_field: str  # what the lookup answers the account's name in
    profile_as: str  # the `ChannelProfile` field it goes to
    metadata: bool  # Messenger echoes `message.metadata`; Instagram has none


def build_session(*, timeout_seconds: float, max_connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 10.0)),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=20),
    )


class MetaMessagingGateway(DashboardWebhook, UnansweredPresses, NoTemplates):
    """One Page's or Instagram account's calls. Cheap to build: the session is shared.
    Its webhook is set up in Meta's dashboard; it has no templates."""

    def __init__(self, account: MetaAccount, session: httpx.AsyncClient, token: str) -> None:
        self.provider_name = account.provider
        self._account = account
        self._session = session
        self._token = token
        self._secrets = (token,)

    async def check(self) -> ChannelProfile:
        found = await self._request(
            "GET",
            f"/{self._account.profile_node}",
            params={"fields": ",".join(self._account.profile_fields)},
        )
        if str(found.get("id", "")) != self._account.profile_node:
            raise ChannelPermanentFailure(
                f"{self._account.provider} answered for another account ({found.get('id')})."
            )
        return ChannelProfile(**{self._account.profile_as: found.get(self._account.profile_field)})

    async def send(self, message: OutboundMessage) -> SendResult:
        recipient = message.recipient.user_id
        if not recipient:
            raise ChannelPermanentFailure(
                f"{self._account.provider} messages go to a user id, not a phone number."
            )
        base: dict[str, Any] = {"recipient": {"id": recipient}}
        content = message.content
        if isinstance(content, ReactionContent):
            action = "react" if content.emoji else "unreact"
            payload: dict[str, Any] = {"message_id": content.message_id}
            if content.emoji:
                payload["reaction"] = "love"  # the only reaction Meta's Send API takes
            await self._post({**base, "sender_action": action, "payload": payload})
            return SendResult(
                external_id=f"reaction:{content.message_id}:{action}:{message.tracker or ''}",
                recipient_user_id=recipient,
            )
        base.update(_messaging_type(message.human_agent))
        if message.reply_to:
            base["reply_to"] = {"mid": message.reply_to}
        bodies = _message_bodies(content, self._account.provider)
        first: str | None = None
        for body in bodies:
            if self._account.metadata and message.tracker:
                body = {**body, "metadata": message.tracker}
            answer = await self._post({**base, "message": body})
            mid = answer.get("message_id")
            if not mid:
                raise ChannelPermanentFailure(
                    f"{self._account.provider} accepted the message without an id."
                )
            first = first or str(mid)
            base.pop("reply_to", None)  # a caption that follows is no reply
        assert first is not None  # noqa: S101 - at least one body
        return SendResult(external_id=first, recipient_user_id=recipient)

    async def mark_read(
        self, external_id: str, *, user_id: str | None = None, typing: bool = False
    ) -> None:
        if not user_id:
            log.info("%s read receipt without the customer's id: nothing marked",
                     self._account.provider)  # fmt: skip
            return
        actions = ("mark_seen", "typing_on") if typing else ("mark_seen",)
        for action in actions:
            await self._post({"recipient": {"id": user_id}, "sender_action": action})

    @asynccontextmanager
    async def open_media(self, media_id: str) -> AsyncIterator[MediaDownload]:
        if not media_id.startswith(("https://", "http://")):
            raise ChannelPermanentFailure("This attachment has no download URL.")
        try:
            async with self._session.stream("GET", media_id) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise from_transport_error(
                        httpx.HTTPStatusError("media", request=response.request, response=response),
                        self._account.provider,
                    )
                size = response.headers.get("content-length")
                yield MediaDownload(
                    media_id=media_id,
                    content_type=response.headers.get("content-type"),
                    size=int(size) if size and size.isdigit() else None,
                    chunks=response.aiter_bytes(MEDIA_CHUNK_BYTES),
                )
        except httpx.HTTPError as exc:
            raise from_transport_error(exc, self._account.provider) from None

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._request("POST", f"/{self._account.send_node}/messages", json=body)

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = f"{self._account.base_url}{path}"
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            response = await self._session.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise from_transport_error(exc, self._account.provider) from None
        try:
            data = response.json() if response.content else None
        except (ValueError, UnicodeDecodeError):
            data = None
        if response.status_code >= 400:
            error = data.get("error") if isinstance(data, dict) else None
            raise from_meta_error(
                response.status_code,
                error if isinstance(error, dict) else None,
                provider=self._account.provider,
                secrets=self._secrets,
            )
        if not isinstance(data, dict):
            raise ChannelOutcomeUnknown(f"{self._account.provider} answered, but not with JSON.")
        return data


def _messaging_type(human_agent: bool) -> dict[str, str]:
    if human_agent:
        return {"messaging_type": "MESSAGE_TAG", "tag": HUMAN_AGENT}
    return {"messaging_type": "RESPONSE"}


def _message_bodies(content: Any, provider: str) -> list[dict[str, Any]]:
    if isinstance(content, TextContent):
        return [{"text": content.body}]
    if isinstance(content, MediaContent):
        payload: dict[str, Any] = (
            {"url": content.link, "is_reusable": False}
            if content.link
            else {"attachment_id": content.media_id}
        )
        attachment = {"type": ATTACHMENT_TYPES[content.media_kind], "payload": payload}
        bodies: list[dict[str, Any]] = [{"attachment": attachment}]
        if content.caption:
            bodies.append({"text": content.caption})
        return bodies
    kind = getattr(content, "kind", type(content).__name__)
    raise ChannelPermanentFailure(f"{provider} cannot carry {kind} messages.")
