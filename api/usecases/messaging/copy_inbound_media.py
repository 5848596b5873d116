"""Copy an inbound message's file from the provider into the tenant's storage.

Provider media ids live seven days and their download URLs five minutes, so the job runs
as soon as the message is stored: it asks the channel's gateway for the file (streamed,
never whole in memory), stores it as one of the tenant's files (the files feature's
storage, its rules: sniffed type, size limit, no orphan blob) and links it to the
message (`media: {file_id, content_type, size, filename}`). A transient provider or
storage failure raises `TemporaryFailure`/`ServiceUnavailable`, which the job retries.
Idempotent: a message already linked is left alone, and of two runs copying at once
(a redelivered job) the first to link wins and the other deletes its copy. The linked
message is published as `message.updated`. A message erased while its file was copied
(the person's data erased) gets no link, and the copy is deleted again.

A file the storage's rules refuse for good (a type not allowed, larger than the limit, or
found infected by the malware scanner) is not kept, and the message says why instead:
`content.media_refused: {reason, detail}` (`unsupported_type`, `too_large`, `malware`),
published as `message.updated`; the job ends there (retrying would refuse it again).
"""

from __future__ import annotations

import logging
import mimetypes

from api.domain.errors import MalwareDetected, PayloadTooLarge, UnsupportedMediaType
from api.domain.messaging.channels import ChannelRepository
from api.domain.messaging.gateway import ChannelGateways
from api.domain.messaging.messages import MediaLink, MediaSink, MessageRepository
from api.domain.messaging.realtime import InboxEvent, InboxEvents, InboxEventType

log = logging.getLogger(__name__)


def refusal(exc: MalwareDetected | UnsupportedMediaType | PayloadTooLarge) -> dict[str, str]:
    """What a message says about a file the storage refused."""
    if isinstance(exc, MalwareDetected):
        return {"reason": "malware", "detail": exc.detail}
    if isinstance(exc, UnsupportedMediaType):
        return {"reason": "unsupported_type", "detail": exc.detail}
    return {"reason": "too_large", "detail": exc.detail}


def media_filename(kind: str, media_id: str, filename: str | None, mime: str | None) -> str:
    """The sender's filename, else `{kind}-{media id}{extension of the type}`."""
    if filename:
        return filename
    extension = mimetypes.guess_extension((mime or "").split(";")[0].strip()) or ""
    return f"{kind}-{media_id}{extension}"


class CopyInboundMedia:
    def __init__(
        self,
        messages: MessageRepository,
        channels: ChannelRepository,
        gateways: ChannelGateways,
        sink: MediaSink,
        events: InboxEvents,
    ) -> None:
        self._messages = messages
        self._channels = channels
        self._gateways = gateways
        self._sink = sink
        self._events = events

    async def execute(self, message_id: str) -> MediaLink | None:
        """The link stored (or already there); None when there is nothing to copy."""
        message = await self._messages.get(message_id)
        if message is None or message.id is None:
            return None
        if message.media is not None:
            return message.media
        media = message.content.get("media") or {}
        media_id = media.get("media_id")
        channel = await self._channels.get(message.channel_id)
        if not media_id or channel is None:
            log.info("message %s has no media to copy (or its channel is gone)", message_id)
            return None
        gateway = self._gateways.for_channel(channel)
        try:
            async with gateway.open_media(media_id) as download:
                content_type = download.content_type or media.get("mime_type")
                link = await self._sink.store(
                    filename=media_filename(message.type, media_id, media.get("filename"),
                                            content_type),
                    chunks=download.chunks,
                    content_type=content_type,
                    owner_id=message.id,
                )  # fmt: skip
        except (MalwareDetected, UnsupportedMediaType, PayloadTooLarge) as exc:
            await self._refused(message.id, exc)
            return None
        if not await self._messages.link_media(message.id, link):
            # Another run linked its copy first, or the message was erased (or deleted)
            # meanwhile: this copy is not kept.
            await self._sink.remove(link.file_id)
            current = await self._messages.get(message.id)
            if current is not None and current.media is not None:
                return current.media
            log.info("message %s was erased during its media copy; the copy is deleted",
                     message.id)  # fmt: skip
            return None
        await self._events.publish(
            InboxEvent.of_message(
                InboxEventType.MESSAGE_UPDATED, message.model_copy(update={"media": link})
            )
        )
        return link

    async def _refused(
        self, message_id: str, exc: MalwareDetected | UnsupportedMediaType | PayloadTooLarge
    ) -> None:
        log.warning("the file of message %s was refused: %s", message_id, exc.code)
        await self._messages.annotate(message_id, {"media_refused": refusal(exc)})
        refused = await self._messages.get(message_id)
        if refused is not None:
            await self._events.publish(
                InboxEvent.of_message(InboxEventType.MESSAGE_UPDATED, refused)
            )
