"""Telegram's webhook: one `Update` a delivery, parsed into at most one typed event.

Its key is `update:{update_id}` (unique per bot, and so per channel: the item ledger
settles each once however often Telegram delivers it). Private chats only (a bot added
to a group is not a customer conversation): anything else is `Unrecognized`. Provider
message ids are `{chat_id}:{message_id}` (Telegram's ids are per chat).

- `message`: text, photo (the largest size), document, voice, audio, video, sticker,
  location, venue, contact; `reply_to_message` gives `reply_to`; a caption is the text.
- `edited_message`: an `edit` of the original (`target_id`), with the message as it now
  reads in `edited`.
- `callback_query` (an inline keyboard button pressed): a `button_reply` with the
  button's callback data as `reply.id` and its label as `reply.title`; its id is the
  `press_id` that the processing answers (`answerCallbackQuery`) once it is stored.
- `message_reaction`: a `reaction` (the first emoji now set; none: removed).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.domain.messaging.events import (
    InboundEvent,
    InboundMedia,
    Location,
    MessageKind,
    MessageReceived,
    Reaction,
    Reply,
    Sender,
    Unrecognized,
)

_MEDIA = (
    ("photo", MessageKind.IMAGE),
    ("document", MessageKind.DOCUMENT),
    ("voice", MessageKind.VOICE),
    ("audio", MessageKind.AUDIO),
    ("video", MessageKind.VIDEO),
    ("video_note", MessageKind.VIDEO),
    ("animation", MessageKind.VIDEO),
    ("sticker", MessageKind.STICKER),
)


def provider_id(chat_id: Any, message_id: Any) -> str:
    return f"{chat_id}:{message_id}"


def parse_update(payload: dict[str, Any]) -> list[InboundEvent]:
    update_id = payload.get("update_id")
    key = f"update:{update_id}"
    try:
        event = _event(key, payload)
    except (KeyError, TypeError, ValueError, AttributeError):
        event = None
    if event is None:
        field = next((k for k in payload if k != "update_id"), "unknown")
        return [Unrecognized(key=key, field=field, raw=payload)]
    return [event]


def _event(key: str, payload: dict[str, Any]) -> MessageReceived | None:
    if isinstance(payload.get("message"), dict):
        return _message(key, payload["message"])
    if isinstance(payload.get("edited_message"), dict):
        edited = payload["edited_message"]
        now = _message(key, edited)
        if now is None:
            return None
        at = _time(edited.get("edit_date") or edited["date"])
        return MessageReceived(
            key=key, account_id="", kind=MessageKind.EDIT, sender=now.sender, timestamp=at,
            external_id=f"{now.external_id}:edit:{int(at.timestamp())}",
            text=now.text, target_id=now.external_id, edited=now,
        )  # fmt: skip
    if isinstance(payload.get("callback_query"), dict):
        return _callback(key, payload["callback_query"])
    if isinstance(payload.get("message_reaction"), dict):
        return _reaction(key, payload["message_reaction"])
    return None


def _private(chat: dict[str, Any]) -> bool:
    return chat.get("type") == "private"


def _sender(user: dict[str, Any]) -> Sender:
    name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p) or None
    return Sender(user_id=str(user["id"]), username=user.get("username"), name=name)


def _time(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), tz=UTC)


def _message(key: str, message: dict[str, Any]) -> MessageReceived | None:
    chat = message["chat"]
    user = message.get("from")
    if not _private(chat) or not isinstance(user, dict) or user.get("is_bot"):
        return None
    replied = message.get("reply_to_message")
    fields: dict[str, Any] = {
        "key": key, "account_id": "", "sender": _sender(user),
        "external_id": provider_id(chat["id"], message["message_id"]),
        "timestamp": _time(message["date"]),
        "reply_to": provider_id(chat["id"], replied["message_id"])
        if isinstance(replied, dict) else None,
        "forwarded": "forward_origin" in message,
    }  # fmt: skip
    caption = message.get("caption")
    for field, kind in _MEDIA:
        if field in message:
            found = message[field]
            item = found[-1] if isinstance(found, list) else found  # photo: the largest size
            media = InboundMedia(
                media_id=str(item["file_id"]), mime_type=item.get("mime_type"),
                filename=item.get("file_name"), caption=caption,
                voice=field == "voice", animated=bool(item.get("is_animated")),
            )  # fmt: skip
            return MessageReceived(kind=kind, text=caption, media=media, **fields)
    if isinstance(message.get("venue"), dict):
        venue = message["venue"]
        spot = venue["location"]
        location = Location(
            latitude=spot["latitude"], longitude=spot["longitude"],
            name=venue.get("title"), address=venue.get("address"),
        )  # fmt: skip
        return MessageReceived(kind=MessageKind.LOCATION, location=location, **fields)
    if isinstance(message.get("location"), dict):
        spot = message["location"]
        location = Location(latitude=spot["latitude"], longitude=spot["longitude"])
        return MessageReceived(kind=MessageKind.LOCATION, location=location, **fields)
    if isinstance(message.get("contact"), dict):
        return MessageReceived(
            kind=MessageKind.CONTACTS, contacts=[_contact(message["contact"])], **fields
        )
    if isinstance(message.get("text"), str):
        return MessageReceived(kind=MessageKind.TEXT, text=message["text"], **fields)
    return MessageReceived(kind=MessageKind.UNSUPPORTED, **fields)


def _contact(shared: dict[str, Any]) -> dict[str, Any]:
    """A shared contact in the shape WhatsApp's vCards have (name, phones)."""
    first, last = shared.get("first_name"), shared.get("last_name")
    formatted = " ".join(p for p in (first, last) if p)
    card: dict[str, Any] = {
        "name": {"formatted_name": formatted, "first_name": first, "last_name": last},
        "phones": [{"phone": shared.get("phone_number"), "type": "CELL"}],
    }
    if shared.get("user_id"):
        card["telegram_user_id"] = str(shared["user_id"])
    if shared.get("vcard"):
        card["vcard"] = shared["vcard"]
    return card


def _callback(key: str, query: dict[str, Any]) -> MessageReceived | None:
    user = query["from"]
    message = query.get("message") or {}
    chat = message.get("chat") or {}
    if not _private(chat) or "message_id" not in message:
        return None
    data = query.get("data")
    title = _button_title(message, data)
    return MessageReceived(
        key=key, account_id="", kind=MessageKind.BUTTON_REPLY, sender=_sender(user),
        external_id=f"callback:{query['id']}",
        timestamp=datetime.now(UTC),  # a press has no time of its own
        text=title, reply=Reply(id=data, title=title),
        reply_to=provider_id(chat["id"], message["message_id"]), press_id=str(query["id"]),
    )  # fmt: skip


def _button_title(message: dict[str, Any], data: Any) -> str | None:
    keyboard = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    for row in keyboard:
        for button in row:
            if button.get("callback_data") == data:
                return str(button.get("text"))
    return None


def _reaction(key: str, reaction: dict[str, Any]) -> MessageReceived | None:
    chat = reaction["chat"]
    user = reaction.get("user")
    if not _private(chat) or not isinstance(user, dict):
        return None
    emojis = [r.get("emoji") for r in reaction.get("new_reaction") or [] if r.get("emoji")]
    target = provider_id(chat["id"], reaction["message_id"])
    at = _time(reaction["date"])
    return MessageReceived(
        key=key, account_id="", kind=MessageKind.REACTION, sender=_sender(user),
        external_id=f"{target}:reaction:{int(at.timestamp())}", timestamp=at,
        reaction=Reaction(message_id=target, emoji=emojis[0] if emojis else None),
    )  # fmt: skip
