"""`ReusedMedia`: a campaign's file uploaded once, then sent by the provider's id; a
refused id falls back to the bytes; each row gets one accepted message."""

from __future__ import annotations

import asyncio
import itertools

from api.domain.messaging.content import (
    MediaContent,
    MediaKind,
    OutboundMessage,
    Recipient,
    SendResult,
    TextContent,
)
from api.domain.messaging.errors import ChannelMediaRefused, ChannelPermanentFailure
from api.usecases.messaging.campaign_media import ReusedMedia

PICTURE = b"\x89PNG" + b"x" * 64


def photo_to(chat: str) -> OutboundMessage:
    content = MediaContent(media_kind=MediaKind.IMAGE, data=PICTURE, caption="Sale")
    return OutboundMessage(recipient=Recipient(user_id=chat), content=content)


class Provider:
    """Answers like Telegram: a new file id per upload, the ids it gave taken back; an
    answer is awaited (so that requests overlap)."""

    def __init__(self, *, gives_ids: bool = True, fail_first_upload: bool = False) -> None:
        self.known: set[str] = set()
        self.sent: list[tuple[str, str]] = []  # (chat, "bytes" | the id) accepted
        self.refused: list[str] = []
        self.gives_ids = gives_ids
        self.fail_first_upload = fail_first_upload
        self._ids = itertools.count(1)

    async def send(self, message: OutboundMessage) -> SendResult:
        await asyncio.sleep(0)
        content = message.content
        chat = message.recipient.user_id or ""
        assert isinstance(content, MediaContent)
        if content.media_id is not None:
            if content.media_id not in self.known:
                self.refused.append(chat)
                raise ChannelMediaRefused("wrong file identifier", provider_code=400)
            self.sent.append((chat, content.media_id))
            return SendResult(external_id=f"{chat}:1", media_id=content.media_id)
        assert content.data == PICTURE
        if self.fail_first_upload:
            self.fail_first_upload = False
            raise ChannelPermanentFailure("Forbidden: bot was blocked by the user")
        self.sent.append((chat, "bytes"))
        if not self.gives_ids:
            return SendResult(external_id=f"{chat}:1")
        file_id = f"F{next(self._ids)}"
        self.known.add(file_id)
        return SendResult(external_id=f"{chat}:1", media_id=file_id)


async def send_all(reused: ReusedMedia, provider: Provider, chats: list[str]) -> list[object]:
    return await asyncio.gather(
        *(reused.send(photo_to(chat), provider.send) for chat in chats), return_exceptions=True
    )


async def test_concurrent_rows_make_one_upload_and_send_its_id() -> None:
    provider, reused = Provider(), ReusedMedia()
    chats = [str(n) for n in range(20)]
    await send_all(reused, provider, chats)
    assert [how for _, how in provider.sent].count("bytes") == 1
    assert sorted(chat for chat, _ in provider.sent) == sorted(chats)
    assert {how for _, how in provider.sent} == {"bytes", "F1"}
    assert reused.media_id == "F1" and reused.uploads == 1


async def test_a_refused_id_is_forgotten_and_the_rows_upload_once_again() -> None:
    provider, reused = Provider(), ReusedMedia(media_id="stale")
    chats = [str(n) for n in range(8)]
    await send_all(reused, provider, chats)
    assert provider.refused  # the stale id was tried and refused
    assert [how for _, how in provider.sent].count("bytes") == 1
    assert sorted(chat for chat, _ in provider.sent) == sorted(chats)  # one each
    assert reused.media_id == "F1"


async def test_a_failed_upload_lets_the_next_row_upload() -> None:
    provider, reused = Provider(fail_first_upload=True), ReusedMedia()
    answers = await send_all(reused, provider, ["a", "b", "c"])
    assert [type(a) for a in answers].count(ChannelPermanentFailure) == 1
    assert [how for _, how in provider.sent].count("bytes") == 1
    assert len(provider.sent) == 2 and reused.media_id == "F1"


async def test_a_provider_without_ids_uploads_each_row() -> None:
    provider, reused = Provider(gives_ids=False), ReusedMedia()
    await send_all(reused, provider, ["a", "b", "c"])
    assert [how for _, how in provider.sent] == ["bytes"] * 3
    assert reused.media_id is None and reused.no_ids


async def test_other_messages_go_as_they_are() -> None:
    seen: list[OutboundMessage] = []

    async def send(message: OutboundMessage) -> SendResult:
        seen.append(message)
        return SendResult(external_id="1")

    reused = ReusedMedia(media_id="F9")
    text = OutboundMessage(recipient=Recipient(user_id="a"), content=TextContent(body="Hi"))
    linked = OutboundMessage(
        recipient=Recipient(user_id="a"),
        content=MediaContent(media_kind=MediaKind.IMAGE, link="https://cdn.example.com/a.png"),
    )
    await reused.send(text, send)
    await reused.send(linked, send)
    assert seen == [text, linked]
