"""A campaign's file, uploaded once a run: where the provider gives a reusable id for a
file it received (Telegram's `file_id`), the first row's request uploads the bytes and
every following row sends that id instead (for 10,000 recipients and a 2 MB image: one
upload, not 20 GB).

Rules:
- Until an id is known, one request at a time uploads (the others wait for its answer,
  then send the id it gave; if it failed, the next one uploads; if it was accepted with
  no id, the provider gives none and the rows upload side by side, as before).
- An id the provider refuses (`ChannelMediaRefused`: nothing was sent) is forgotten, and
  that row goes again as above: with the bytes, one request at a time, the others with the
  id its answer gives (a second refusal: with the bytes at once). A refused request sent
  nothing, so each row still gets exactly one message.
- The id is kept on the run (`CampaignRun.media_id`), so the run's later slices start
  with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from api.domain.messaging.content import MediaContent, OutboundMessage, SendResult
from api.domain.messaging.errors import ChannelMediaRefused

Send = Callable[[OutboundMessage], Awaitable[SendResult]]


@dataclass
class ReusedMedia:
    """The provider's id of a slice's uploaded file, and the lock that lets one upload
    go at a time while it is unknown."""

    media_id: str | None = None
    uploads: int = 0  # requests that carried the bytes (this slice)
    no_ids: bool = False  # an upload's answer carried no id: uploads go side by side
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, message: OutboundMessage, send: Send) -> SendResult:
        """`message` through `send`, by the known id when it carries the file's bytes."""
        content = message.content
        if not isinstance(content, MediaContent) or content.data is None or self.no_ids:
            return await send(message)
        known = self.media_id
        for _ in range(2):  # the id known, then (refused) the one the next upload gives
            if known is None:
                async with self._lock:
                    known = self.media_id
                    if known is None:
                        return await self._upload(message, send)
            try:
                return await send(_by_id(message, content, known))
            except ChannelMediaRefused:
                if self.media_id == known:
                    self.media_id = None
                known = None
        return await self._upload(message, send)

    async def _upload(self, message: OutboundMessage, send: Send) -> SendResult:
        self.uploads += 1
        result = await send(message)
        if not result.media_id:
            self.no_ids = True
        elif self.media_id is None:
            self.media_id = result.media_id
        return result


def _by_id(message: OutboundMessage, content: MediaContent, media_id: str) -> OutboundMessage:
    by_id = content.model_copy(update={"data": None, "media_id": media_id})
    return message.model_copy(update={"content": by_id})
