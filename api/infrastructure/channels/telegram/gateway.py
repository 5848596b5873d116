"""One Telegram bot's calls, through python-telegram-bot's `Bot` on the channel's Bot API
base (`api_base_url`: Telegram's, a local Bot API server or a test fake).

Message ids are per chat in Telegram, so Parley's provider ids are `{chat_id}:{message_id}`
(what the webhook parser gives inbound messages too). Media is sent by upload (multipart):
the stored file's signed link is read here and its bytes posted, so the file never has to
be reachable from Telegram; or by a `file_id` this bot got before (`MediaContent.media_id`,
sent as the string parameter). A sent file's `file_id` comes back in `SendResult.media_id`
(a photo's largest size). Telegram has no read receipts and no templates.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReactionTypeEmoji,
    ReplyParameters,
)
from telegram import error as tg

from api.domain.messaging.channels import MAX_UPLOAD_BYTES, ChannelProfile, TelegramSettings
from api.domain.messaging.content import (
    InteractiveContent,
    LocationContent,
    MediaContent,
    MediaKind,
    OutboundMessage,
    ReactionContent,
    SendResult,
    TextContent,
)
from api.domain.messaging.errors import (
    ChannelMediaRefused,
    ChannelPermanentFailure,
    ChannelTransientFailure,
)
from api.domain.messaging.gateway import MediaDownload
from api.infrastructure.channels.provider import NoTemplates
from api.infrastructure.channels.telegram.errors import from_telegram_error
from api.infrastructure.channels.telegram.webhook import provider_id

log = logging.getLogger(__name__)
T = TypeVar("T")
MEDIA_CHUNK_BYTES = 64 * 1024
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "message_reaction")
_MAX_BUTTONS = 100


def message_id_of(external_id: str) -> int:
    """The Telegram message id in a provider id `{chat_id}:{message_id}`."""
    try:
        return int(external_id.rsplit(":", 1)[-1])
    except ValueError:
        raise ChannelPermanentFailure(f"{external_id!r} is not a Telegram message id.") from None


class TelegramGateway(NoTemplates):
    """One bot's calls. Cheap to build: the `Bot` (and its pool) is shared."""

    provider_name = "Telegram"

    def __init__(
        self, settings: TelegramSettings, bot: Bot, files: httpx.AsyncClient, token: str
    ) -> None:
        self._settings = settings
        self._bot = bot
        self._files = files
        self._token = token

    async def check(self) -> ChannelProfile:
        me = await self._call(self._bot.get_me)
        return ChannelProfile(bot_id=str(me.id), bot_username=me.username)

    async def register_webhook(self, url: str, secret_token: str) -> None:
        await self._call(
            lambda: self._bot.set_webhook(
                url, secret_token=secret_token, allowed_updates=list(ALLOWED_UPDATES)
            )
        )

    async def unregister_webhook(self) -> None:
        await self._call(self._bot.delete_webhook)

    async def send(self, message: OutboundMessage) -> SendResult:
        chat_id = message.recipient.user_id
        if not chat_id:
            raise ChannelPermanentFailure("A Telegram message needs the user's chat id.")
        reply = (
            ReplyParameters(message_id_of(message.reply_to), allow_sending_without_reply=True)
            if message.reply_to
            else None
        )
        content = message.content
        sent: Message
        if isinstance(content, TextContent):
            sent = await self._call(
                lambda: self._bot.send_message(chat_id, content.body, reply_parameters=reply)
            )
        elif isinstance(content, MediaContent):
            sent = await self._send_media(chat_id, content, reply)
        elif isinstance(content, LocationContent):
            sent = await self._send_location(chat_id, content, reply)
        elif isinstance(content, InteractiveContent):
            text, markup = inline_keyboard(content.interactive)
            sent = await self._call(
                lambda: self._bot.send_message(
                    chat_id, text, reply_parameters=reply, reply_markup=markup
                )
            )
        elif isinstance(content, ReactionContent):
            target = message_id_of(content.message_id)
            reaction = [ReactionTypeEmoji(content.emoji)] if content.emoji else []
            await self._call(
                lambda: self._bot.set_message_reaction(chat_id, target, reaction=reaction)
            )
            return SendResult(
                # Telegram gives a reaction no id: Parley's own (the tracker) keeps it unique
                external_id=f"{content.message_id}:reaction:{message.tracker or ''}",
                recipient_user_id=chat_id,
            )
        else:
            raise ChannelPermanentFailure(f"Telegram cannot carry a {content.kind} message.")
        return SendResult(
            external_id=provider_id(sent.chat.id, sent.message_id), recipient_user_id=chat_id,
            media_id=file_id_of(sent),
        )  # fmt: skip

    async def mark_read(
        self, external_id: str, *, user_id: str | None = None, typing: bool = False
    ) -> None:
        return None  # bots have no read receipts

    async def answer_press(self, press_id: str) -> None:
        await self._call(lambda: self._bot.answer_callback_query(press_id))

    @asynccontextmanager
    async def open_media(self, media_id: str) -> AsyncIterator[MediaDownload]:
        found = await self._call(lambda: self._bot.get_file(media_id))
        if not found.file_path:
            raise ChannelPermanentFailure("Telegram gave no path for this file.")
        path = found.file_path
        # python-telegram-bot already gives the full download URL (its base_file_url)
        url = (
            path
            if path.startswith(("http://", "https://"))
            else f"{self._settings.api_base_url}/file/bot{self._token}/{path}"
        )
        try:
            async with self._files.stream("GET", url) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _download_failure(response.status_code)
                yield MediaDownload(
                    media_id=media_id,
                    content_type=response.headers.get("content-type"),
                    size=found.file_size,
                    chunks=response.aiter_bytes(MEDIA_CHUNK_BYTES),
                )
        except httpx.HTTPError as exc:
            raise ChannelTransientFailure(
                f"Telegram's file download failed: {type(exc).__name__}"
            ) from None

    async def _send_media(
        self, chat_id: str, content: MediaContent, reply: ReplyParameters | None
    ) -> Message:
        upload: InputFile | str
        if content.media_id is not None:  # a file_id this bot got before
            upload = content.media_id
        else:
            data = (
                content.data
                if content.data is not None
                else await self._download(content.link or "")
            )  # a public link the message named
            upload = InputFile(data, filename=content.filename or _default_name(content.media_kind))
        caption = content.caption
        bot = self._bot
        senders: dict[MediaKind, Callable[[], Awaitable[Message]]] = {
            MediaKind.IMAGE: lambda: bot.send_photo(
                chat_id, upload, caption=caption, reply_parameters=reply
            ),
            MediaKind.VIDEO: lambda: bot.send_video(
                chat_id, upload, caption=caption, reply_parameters=reply
            ),
            MediaKind.AUDIO: lambda: bot.send_audio(
                chat_id, upload, caption=caption, reply_parameters=reply
            ),
            MediaKind.DOCUMENT: lambda: bot.send_document(
                chat_id, upload, caption=caption, reply_parameters=reply
            ),
            MediaKind.STICKER: lambda: bot.send_sticker(chat_id, upload, reply_parameters=reply),
        }
        try:
            return await self._call(senders[content.media_kind])
        except ChannelPermanentFailure as refused:
            if content.media_id is not None and refused_file_id(refused):
                raise ChannelMediaRefused(
                    str(refused), provider_code=refused.provider_code,
                    provider_title=refused.provider_title,
                ) from None  # fmt: skip
            raise

    async def _send_location(
        self, chat_id: str, content: LocationContent, reply: ReplyParameters | None
    ) -> Message:
        if content.name or content.address:
            return await self._call(
                lambda: self._bot.send_venue(
                    chat_id, content.latitude, content.longitude,
                    title=content.name or content.address or "",
                    address=content.address or content.name or "",
                    reply_parameters=reply,
                )
            )  # fmt: skip
        return await self._call(
            lambda: self._bot.send_location(
                chat_id, content.latitude, content.longitude, reply_parameters=reply
            )
        )

    async def _download(self, link: str) -> bytes:
        """The stored file's bytes, by its signed link (at most the Bot API's limit)."""
        try:
            async with self._files.stream("GET", link) as response:
                if response.status_code >= 400:
                    raise ChannelTransientFailure(
                        f"The stored file could not be read ({response.status_code})."
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes(MEDIA_CHUNK_BYTES):
                    size += len(chunk)
                    if size > MAX_UPLOAD_BYTES:
                        raise ChannelPermanentFailure("The file is over Telegram's 50 MB limit.")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise ChannelTransientFailure(
                f"The stored file could not be read: {type(exc).__name__}"
            ) from None

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except tg.TelegramError as exc:
            raise from_telegram_error(exc, secrets=(self._token,)) from None
        except RuntimeError:
            if self._files.is_closed:  # replaced (token rotated) or shut down
                raise ChannelTransientFailure("The channel's client was replaced.") from None
            raise


def inline_keyboard(interactive: dict[str, Any]) -> tuple[str, InlineKeyboardMarkup]:
    """Meta's `interactive` shape as a text and an inline keyboard: reply buttons and list
    rows become callback buttons (their `id` the callback data), a `cta_url` a URL button;
    one button a row."""
    body = interactive.get("body") or {}
    text = str(body.get("text") or (interactive.get("header") or {}).get("text") or "")
    action = interactive.get("action") or {}
    rows: list[list[InlineKeyboardButton]] = []
    for button in action.get("buttons") or []:
        reply = button.get("reply") or {}
        if reply.get("id") and reply.get("title"):
            rows.append([InlineKeyboardButton(str(reply["title"]), callback_data=str(reply["id"]))])
    for section in action.get("sections") or []:
        for row in section.get("rows") or []:
            if row.get("id") and row.get("title"):
                rows.append([InlineKeyboardButton(str(row["title"]), callback_data=str(row["id"]))])
    parameters = action.get("parameters") or {}
    if parameters.get("url") and parameters.get("display_text"):
        rows.append(
            [InlineKeyboardButton(str(parameters["display_text"]), url=str(parameters["url"]))]
        )
    if not text or not rows:
        raise ChannelPermanentFailure(
            "An interactive message for Telegram needs a body text and buttons, list rows "
            "or a URL button."
        )
    return text, InlineKeyboardMarkup(rows[:_MAX_BUTTONS])


def file_id_of(sent: Message) -> str | None:
    """The `file_id` of the file a sent message carries (a photo's largest size), to send
    it again without its bytes; None for a message without a file."""
    if sent.photo:
        return max(
            sent.photo, key=lambda size: (size.width * size.height, size.file_size or 0)
        ).file_id
    for attachment in (sent.document, sent.video, sent.audio, sent.voice, sent.animation,
                       sent.sticker, sent.video_note):  # fmt: skip
        if attachment is not None:
            return attachment.file_id
    return None


def refused_file_id(refused: ChannelPermanentFailure) -> bool:
    """Telegram's 400 for a `file_id` it does not take ("wrong file identifier/HTTP URL
    specified", "wrong remote file identifier specified", "type of file mismatch"...)."""
    text = str(refused).lower()
    return refused.provider_code == 400 and any(
        mark in text for mark in ("file identifier", "file_id", "file id", "file mismatch")
    )


def _default_name(kind: MediaKind) -> str:
    return {
        MediaKind.IMAGE: "image.jpg", MediaKind.VIDEO: "video.mp4", MediaKind.AUDIO: "audio.mp3",
        MediaKind.DOCUMENT: "document", MediaKind.STICKER: "sticker.webp",
    }[kind]  # fmt: skip


def _download_failure(status: int) -> Exception:
    if status in (401, 404):
        return ChannelPermanentFailure(f"Telegram refused the file download ({status}).")
    return ChannelTransientFailure(f"Telegram's file download failed ({status}).")
