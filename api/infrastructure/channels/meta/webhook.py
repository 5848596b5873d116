"""A Messenger or Instagram webhook delivery (Meta's JSON) as Parley's typed events.

Both speak the Messenger Platform's shape: `{"object": "page"|"instagram", "entry": [{"id":
<page or Instagram account id>, "time", "messaging": [...]}]}`, each `messaging` item one
of:

- `message`: what the customer sent (`mid`, `text`, `attachments` of type image, video,
  audio, file, or Instagram's `story_mention`; `reply_to.mid` a reply, `reply_to.story`
  an Instagram story reply; `quick_reply.payload`; `is_deleted` a deletion); with
  `is_echo` it is the business's own send (`sender` is then the page, `recipient` the
  customer; Messenger echoes carry back the send's `metadata`);
- `reaction` (`mid` reacted to, `action` react | unreact, `emoji`);
- `message_edit` (`mid`, `text`, `num_edit`); `postback` (a button: `title`, `payload`);
- `delivery` (`mids`) and `read` (Instagram: `mid`; Messenger: a `watermark` only).

Each item is parsed on its own: one that cannot be read, or of a kind Parley does not
interpret, becomes `Unrecognized` (its raw JSON kept) and the others still come through.
Keys: a message's `mid` (so a redelivery is settled once); a reaction, edit or deletion
gets a key of its own derived from its target and content.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from api.domain.messaging.events import (
    DeliveryState,
    InboundEvent,
    InboundMedia,
    MessageEchoed,
    MessageKind,
    MessageReceived,
    Reaction,
    Reply,
    Sender,
    StatusUpdated,
    Story,
)
from api.infrastructure.channels.whatsapp.webhook import digest, unrecognized

log = logging.getLogger(__name__)

ATTACHMENT_KINDS = {
    "image": MessageKind.IMAGE,
    "video": MessageKind.VIDEO,
    "audio": MessageKind.AUDIO,
    "file": MessageKind.DOCUMENT,
    "sticker": MessageKind.STICKER,
}
STORY_MENTION = "story_mention"


def parse_meta_webhook(payload: dict[str, Any]) -> list[InboundEvent]:
    events: list[InboundEvent] = []
    entries = payload.get("entry") if isinstance(payload, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            events.append(unrecognized("entry", entry, None))
            continue
        account_id = str(entry.get("id", ""))
        items = entry.get("messaging")
        for item in items if isinstance(items, list) else []:
            events.extend(_guarded(item, account_id))
        for change in entry.get("changes") or []:  # comments, mentions...: not messages
            events.append(unrecognized("changes", change, account_id or None))
    return events


def _guarded(item: Any, account_id: str) -> list[InboundEvent]:
    try:
        return list(_item(item, account_id))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        log.warning("Unreadable Meta messaging item (%s)", type(exc).__name__)
        return [unrecognized("messaging", item, account_id or None)]


def _item(item: dict[str, Any], account_id: str) -> Iterator[InboundEvent]:
    when = timestamp(item.get("timestamp"))
    sender_id = str((item.get("sender") or {}).get("id", ""))
    recipient_id = str((item.get("recipient") or {}).get("id", ""))
    if isinstance(item.get("message"), dict):
        message = item["message"]
        if message.get("is_echo"):
            yield from _echo(message, account_id, recipient_id, when)
        else:
            yield from _message(message, account_id, Sender(user_id=sender_id), when)
    elif isinstance(item.get("reaction"), dict):
        yield _reaction(item["reaction"], account_id, Sender(user_id=sender_id), when)
    elif isinstance(item.get("message_edit"), dict):
        yield _edit(item["message_edit"], account_id, Sender(user_id=sender_id), when)
    elif isinstance(item.get("postback"), dict):
        yield _postback(item["postback"], account_id, Sender(user_id=sender_id), when)
    elif isinstance(item.get("delivery"), dict):
        for mid in item["delivery"].get("mids") or []:
            yield _status(str(mid), DeliveryState.DELIVERED, account_id, sender_id, when)
    elif isinstance(item.get("read"), dict) and item["read"].get("mid"):
        yield _status(str(item["read"]["mid"]), DeliveryState.READ, account_id, sender_id, when)
    else:
        yield unrecognized("messaging", item, account_id or None)


def _message(
    message: dict[str, Any], account_id: str, sender: Sender, when: datetime
) -> Iterator[MessageReceived]:
    mid = str(message["mid"])
    base: dict[str, Any] = {"account_id": account_id, "sender": sender, "timestamp": when}
    if message.get("is_deleted"):
        yield MessageReceived(
            key=f"{mid}:deleted", external_id=f"{mid}:deleted", kind=MessageKind.DELETE,
            target_id=mid, **base,
        )  # fmt: skip
        return
    reply_to = message.get("reply_to") or {}
    story = _story_reply(reply_to.get("story"))
    base["reply_to"] = str(reply_to["mid"]) if reply_to.get("mid") else None
    base["story"] = story
    attachments = [a for a in message.get("attachments") or [] if isinstance(a, dict)]
    text = message.get("text")
    if not attachments:
        quick = message.get("quick_reply")
        if isinstance(quick, dict):
            reply = Reply(payload=quick.get("payload"), title=text)
            yield MessageReceived(
                key=mid, external_id=mid, kind=MessageKind.BUTTON_REPLY, text=text, reply=reply,
                **base,
            )  # fmt: skip
            return
        kind = MessageKind.TEXT if text else MessageKind.UNSUPPORTED
        yield MessageReceived(key=mid, external_id=mid, kind=kind, text=text, **base)
        return
    # Several files in one message (an album) share its mid: one message each.
    for index, attachment in enumerate(attachments):
        external_id = mid if index == 0 else f"{mid}#{index}"
        yield _attachment(attachment, external_id, text if index == 0 else None, base)


def _attachment(
    attachment: dict[str, Any], external_id: str, text: str | None, base: dict[str, Any]
) -> MessageReceived:
    kind_name = str(attachment.get("type", ""))
    payload = _payload(attachment)
    url = payload.get("url")
    if kind_name == STORY_MENTION:
        story = Story(type="mention", id=payload.get("id") or None, url=url)
        return MessageReceived(
            key=external_id, external_id=external_id, kind=MessageKind.STORY_MENTION,
            text=text, **{**base, "story": story},
        )  # fmt: skip
    kind = ATTACHMENT_KINDS.get(kind_name)
    if payload.get("sticker_id") and kind is MessageKind.IMAGE:
        kind = MessageKind.STICKER  # Messenger's stickers (the "like" thumb) are images
    if kind is None or not url:  # a share, a reel, a location card, a template...
        return MessageReceived(
            key=external_id, external_id=external_id, kind=MessageKind.UNSUPPORTED, text=text,
            referral={"attachment": attachment}, **base,
        )  # fmt: skip
    return MessageReceived(
        key=external_id,
        external_id=external_id,
        kind=kind,
        text=text,
        media=InboundMedia(media_id=str(url), caption=text, animated=kind is MessageKind.STICKER),
        **base,
    )


def _payload(attachment: dict[str, Any]) -> dict[str, Any]:
    payload = attachment.get("payload")
    return payload if isinstance(payload, dict) else {}


def _story_reply(story: Any) -> Story | None:
    if not isinstance(story, dict):
        return None
    return Story(type="reply", id=story.get("id") or None, url=story.get("url") or None)


def _reaction(
    reaction: dict[str, Any], account_id: str, sender: Sender, when: datetime
) -> MessageReceived:
    target = str(reaction["mid"])
    action = str(reaction.get("action") or "react")
    emoji = reaction.get("emoji") if action == "react" else None
    if action == "react" and not emoji:
        emoji = reaction.get("reaction")  # Messenger's name ("love") when no emoji
    marker = digest({"a": action, "e": emoji, "t": when.isoformat(), "s": sender.user_id})[:16]
    key = f"reaction:{target}:{marker}"
    return MessageReceived(
        key=key,
        account_id=account_id,
        external_id=key,
        kind=MessageKind.REACTION,
        sender=sender,
        timestamp=when,
        reaction=Reaction(message_id=target, emoji=emoji),
    )


def _edit(edit: dict[str, Any], account_id: str, sender: Sender, when: datetime) -> MessageReceived:
    target = str(edit["mid"])
    number = int(edit.get("num_edit") or 1)
    key = f"{target}:edit:{number}"
    text = edit.get("text")
    edited = MessageReceived(
        key=target, account_id=account_id, external_id=target, kind=MessageKind.TEXT,
        sender=sender, timestamp=when, text=text,
    )  # fmt: skip
    return MessageReceived(
        key=key, account_id=account_id, external_id=key, kind=MessageKind.EDIT, sender=sender,
        timestamp=when, text=text, target_id=target, edited=edited,
    )  # fmt: skip


def _postback(
    postback: dict[str, Any], account_id: str, sender: Sender, when: datetime
) -> MessageReceived:
    title, payload = postback.get("title"), postback.get("payload")
    mid = postback.get("mid")
    key = str(mid) if mid else f"postback:{digest({'p': postback, 't': when.isoformat()})}"
    return MessageReceived(
        key=key, account_id=account_id, external_id=key, kind=MessageKind.BUTTON_REPLY,
        sender=sender, timestamp=when, text=title, reply=Reply(title=title, payload=payload),
    )  # fmt: skip


def _echo(
    message: dict[str, Any], account_id: str, recipient_id: str, when: datetime
) -> Iterator[MessageEchoed]:
    mid = str(message["mid"])
    attachments = [a for a in message.get("attachments") or [] if isinstance(a, dict)]
    text = message.get("text")
    media = None
    kind = MessageKind.TEXT if text else MessageKind.UNSUPPORTED
    if attachments:
        first = attachments[0]
        payload = _payload(first)
        found = ATTACHMENT_KINDS.get(str(first.get("type", "")))
        if found is not None and payload.get("url"):
            kind = found
            media = InboundMedia(media_id=str(payload["url"]), caption=text)
    reply_to = (message.get("reply_to") or {}).get("mid")
    app_id = message.get("app_id")
    yield MessageEchoed(
        key=f"echo:{mid}",
        account_id=account_id,
        external_id=mid,
        kind=kind,
        recipient=Sender(user_id=recipient_id),
        timestamp=when,
        text=text,
        media=media,
        reply_to=str(reply_to) if reply_to else None,
        tracker=message.get("metadata") or None,
        app_id=str(app_id) if app_id is not None else None,
    )


def _status(
    mid: str, state: DeliveryState, account_id: str, customer_id: str, when: datetime
) -> StatusUpdated:
    return StatusUpdated(
        key=f"status:{mid}:{state.value}",
        account_id=account_id,
        external_id=mid,
        state=state,
        timestamp=when,
        recipient_user_id=customer_id or None,
    )


def timestamp(value: Any) -> datetime:
    """Meta's messaging timestamps are milliseconds since the epoch."""
    if value is None:
        return datetime.now(UTC)
    number = float(value)
    if number > 10_000_000_000:  # milliseconds
        number /= 1000
    return datetime.fromtimestamp(number, UTC)
