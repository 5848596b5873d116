"""How an inbound event reads as a stored message: its type, text, content and error."""

from __future__ import annotations

from typing import Any

from api.domain.messaging.events import MessageKind, MessageReceived
from api.domain.messaging.messages import MessageError

COPY_MEDIA_JOB = "parley.messaging.copy_media"


def message_content(event: MessageReceived) -> dict[str, Any]:
    """Everything the event carries besides its text, as plain JSON-able values."""
    content: dict[str, Any] = {}
    if event.media is not None:
        content["media"] = event.media.model_dump(exclude_none=True)
    if event.location is not None:
        content["location"] = event.location.model_dump(exclude_none=True)
    if event.contacts:
        content["contacts"] = event.contacts
    if event.reply is not None:
        content["reply"] = event.reply.model_dump(exclude_none=True)
    if event.reaction is not None:
        content["reaction"] = event.reaction.model_dump()
    if event.target_id is not None:
        content["target_external_id"] = event.target_id
    if event.edited is not None:
        content["edited"] = {"type": event.edited.kind.value, "text": event.edited.text}
    if event.system is not None:
        content["system"] = event.system.model_dump(exclude_none=True)
    if event.referral is not None:
        content["referral"] = event.referral
    if event.story is not None:
        content["story"] = event.story.model_dump(exclude_none=True)
    if event.forwarded:
        content["forwarded"] = True
    if event.sender.username:
        content["sender_username"] = event.sender.username
    return content


def message_text(event: MessageReceived) -> str | None:
    if event.kind is MessageKind.EDIT and event.edited is not None:
        return event.edited.text
    if event.kind is MessageKind.SYSTEM and event.system is not None:
        return event.system.body
    return event.text


def message_error(event: MessageReceived) -> MessageError | None:
    """The provider's first error (an `unsupported` message says why)."""
    if not event.errors:
        return None
    first = event.errors[0]
    return MessageError(code=first.code, title=first.title or first.message,
                        details=first.details or first.message)  # fmt: skip
