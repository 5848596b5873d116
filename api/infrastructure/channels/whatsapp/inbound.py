"""One item of `value.messages` (what a customer sent) as a `MessageReceived`.

Read straight from Meta's JSON rather than through pywa's update types: those build one
update from `messages[0]` of a whole delivery (Parley handles every batched item on its
own) and need a client instance; and the 2026 fields (`user_id` on contacts, a `from`
that may be absent for customers known only by username, `from_user_id`) are read here
whatever pywa's version knows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from api.domain.messaging.events import (
    InboundMedia,
    Location,
    MessageKind,
    MessageReceived,
    ProviderError,
    Reaction,
    Reply,
    Sender,
    SystemChange,
)

MEDIA_KINDS = {
    "image": MessageKind.IMAGE,
    "video": MessageKind.VIDEO,
    "audio": MessageKind.AUDIO,
    "document": MessageKind.DOCUMENT,
    "sticker": MessageKind.STICKER,
}
SIMPLE_KINDS = {
    "text": MessageKind.TEXT,
    "location": MessageKind.LOCATION,
    "contacts": MessageKind.CONTACTS,
    "button": MessageKind.TEMPLATE_BUTTON,
    "reaction": MessageKind.REACTION,
    "edit": MessageKind.EDIT,
    "revoke": MessageKind.DELETE,
    "order": MessageKind.ORDER,
    "system": MessageKind.SYSTEM,
    "request_welcome": MessageKind.REQUEST_WELCOME,
}
INTERACTIVE_KINDS = {
    "button_reply": MessageKind.BUTTON_REPLY,
    "list_reply": MessageKind.LIST_REPLY,
    "nfm_reply": MessageKind.FLOW_REPLY,
}


def timestamp(raw: Any) -> datetime:
    return datetime.fromtimestamp(int(raw), tz=UTC)


def provider_errors(items: Any) -> list[ProviderError]:
    found = []
    for item in items or []:
        data = item.get("error_data")
        details = data.get("details") if isinstance(data, dict) else None
        found.append(
            ProviderError(
                code=item.get("code"),
                title=item.get("title"),
                message=item.get("message"),
                details=details,
            )
        )
    return found


def sender_of(message: dict[str, Any], contacts: list[dict[str, Any]]) -> Sender:
    """The sender: the contact entry matching the message (by user id or wa_id), else the
    only one; a `from` that is a phone number is kept as `phone`."""
    user_id = message.get("from_user_id")
    phone = message.get("from")
    contact = next(
        (
            c
            for c in contacts
            if (user_id and c.get("user_id") == user_id) or (phone and c.get("wa_id") == phone)
        ),
        contacts[0] if len(contacts) == 1 else {},
    )
    profile = contact.get("profile") or {}
    return Sender(
        user_id=user_id or contact.get("user_id"),
        phone=contact.get("wa_id") or phone,
        username=profile.get("username"),
        name=profile.get("name"),
        parent_user_id=contact.get("parent_user_id"),
    )


def parse_message(
    message: dict[str, Any], contacts: list[dict[str, Any]], account_id: str
) -> MessageReceived:
    external_id = str(message["id"])
    fields = _content(message, account_id, contacts)
    context = message.get("context") or {}
    return MessageReceived(
        key=f"message:{external_id}",
        account_id=account_id,
        external_id=external_id,
        sender=sender_of(message, contacts),
        timestamp=timestamp(message["timestamp"]),
        reply_to=context.get("id") if fields["kind"] is not MessageKind.REACTION else None,
        forwarded=bool(context.get("forwarded") or context.get("frequently_forwarded")),
        referral=message.get("referral"),
        errors=provider_errors(message.get("errors")),
        **fields,
    )


def _content(
    message: dict[str, Any], account_id: str, contacts: list[dict[str, Any]]
) -> dict[str, Any]:
    kind_name = str(message.get("type", "unsupported"))
    body = message.get(kind_name) or {}
    if kind_name in MEDIA_KINDS:
        voice = kind_name == "audio" and bool(body.get("voice"))
        return {
            "kind": MessageKind.VOICE if voice else MEDIA_KINDS[kind_name],
            "text": body.get("caption"),
            "media": InboundMedia(
                media_id=str(body["id"]),
                mime_type=body.get("mime_type"),
                sha256=body.get("sha256"),
                filename=body.get("filename"),
                caption=body.get("caption"),
                voice=voice,
                animated=bool(body.get("animated")),
            ),
        }
    if kind_name == "interactive":
        return _interactive(body)
    kind = SIMPLE_KINDS.get(kind_name)
    if kind is None:
        return {"kind": MessageKind.UNSUPPORTED}
    if kind is MessageKind.TEXT:
        return {"kind": kind, "text": body.get("body")}
    if kind is MessageKind.LOCATION:
        return {"kind": kind, "location": Location(**body)}
    if kind is MessageKind.CONTACTS:
        return {"kind": kind, "contacts": list(message.get("contacts") or [])}
    if kind is MessageKind.TEMPLATE_BUTTON:
        reply = Reply(payload=body.get("payload"), title=body.get("text"))
        return {"kind": kind, "text": body.get("text"), "reply": reply}
    if kind is MessageKind.REACTION:
        emoji = body.get("emoji") or None
        return {"kind": kind, "reaction": Reaction(message_id=body["message_id"], emoji=emoji)}
    if kind is MessageKind.EDIT:
        edited = {**message, **body["message"], "id": message["id"]}
        edited.pop("edit", None)
        new = parse_message(edited, contacts, account_id)
        return {
            "kind": kind,
            "text": new.text,
            "target_id": body["original_message_id"],
            "edited": new,
        }
    if kind is MessageKind.DELETE:
        return {"kind": kind, "target_id": body["original_message_id"]}
    if kind is MessageKind.SYSTEM:
        change = SystemChange(
            type=str(body.get("type", "")),
            body=body.get("body"),
            new_phone=body.get("new_wa_id") or body.get("wa_id"),
            new_user_id=body.get("new_user_id") or body.get("user_id"),
        )
        return {"kind": kind, "text": body.get("body"), "system": change}
    if kind is MessageKind.ORDER:
        return {"kind": kind, "text": body.get("text"), "reply": Reply(data=body)}
    return {"kind": kind}


def _interactive(body: dict[str, Any]) -> dict[str, Any]:
    subtype = str(body.get("type", ""))
    kind = INTERACTIVE_KINDS.get(subtype, MessageKind.UNSUPPORTED)
    choice = body.get(subtype) or {}
    if kind is MessageKind.FLOW_REPLY:
        try:
            data = json.loads(choice.get("response_json") or "{}")
        except ValueError:
            data = {"response_json": choice.get("response_json")}
        reply = Reply(id=choice.get("name"), title=choice.get("body"), data=data)
        return {"kind": kind, "text": choice.get("body"), "reply": reply}
    if kind is MessageKind.UNSUPPORTED:
        return {"kind": kind}
    reply = Reply(
        id=choice.get("id"), title=choice.get("title"), description=choice.get("description")
    )
    return {"kind": kind, "text": choice.get("title"), "reply": reply}
