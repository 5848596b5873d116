"""`TranscriptSource` on the inbox's data: the conversation (through the messaging
context's repository, so what the caller may not see is not found), the tenant's time
zone, and its history (`ConversationHistory`) in provider-neutral words.

Each message reads as: who sent it (the contact's name, the agent's name, "Bot",
"Campaign"), its text or a description of its content (media with file name and caption,
a location, a template, an interactive message, a choice, a reaction, shared contacts,
a system notice), what happened to it afterwards as stored (edited: the original text;
deleted by the sender; a reaction on it), and for a failed send the provider's error.
Media are a signed link to Parley's copy of the file when it has one, else the provider
link the message was sent with, else a note that the file was not stored. Private notes
are `note` entries; audited status changes (resolved, reopened, snoozed, assigned...)
are `event` entries by their actor ("System" for jobs).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from api.domain.audit import AuditEntry
from api.domain.crm.transcripts import (
    EntryKind,
    FileLinks,
    TranscriptEntry,
    TranscriptHeader,
)
from api.domain.identity.users import UserRepository
from api.domain.messaging.conversations import ConversationRepository
from api.domain.messaging.messages import Message, SenderType
from api.domain.tenants.profile import DEFAULT_TIMEZONE, TenantProfileRepository
from api.infrastructure.persistence.crm.conversation_history import ConversationHistory, utc

MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker", "voice"})
SENDER_LABELS = {SenderType.BOT: "Bot", SenderType.CAMPAIGN: "Campaign"}
SYSTEM = "System"
_IGNORED_CHANGE_KEYS = frozenset({"impersonated_by"})


class InboxTranscriptSource:
    """`TranscriptSource` adapter."""

    def __init__(
        self,
        conversations: ConversationRepository,
        profiles: TenantProfileRepository,
        users: UserRepository,
        links: FileLinks,
    ) -> None:
        self._conversations = conversations
        self._profiles = profiles
        self._users = users
        self._links = links
        self._history = ConversationHistory()

    async def header(self, conversation_id: str) -> TranscriptHeader | None:
        conversation = await self._conversations.get(conversation_id)
        if conversation is None or conversation.id is None:
            return None
        profile = await self._profiles.get()
        return TranscriptHeader(
            conversation_id=conversation.id, contact_name=conversation.contact.name,
            contact_phone=conversation.contact.phone, channel_type=conversation.channel_type.value,
            status=conversation.status.value, created_at=conversation.created_at,
            timezone=profile.timezone if profile is not None else DEFAULT_TIMEZONE,
        )  # fmt: skip

    async def entries(
        self, conversation_id: str, *, batch_size: int, links_valid_for: int
    ) -> AsyncIterator[list[TranscriptEntry]]:
        header = await self.header(conversation_id)
        contact = (header.contact_name if header else None) or "Contact"
        names = _Names(self._users)
        merged = _merge(
            self._history.messages(conversation_id, batch_size),
            self._history.status_changes(conversation_id, batch_size),
        )
        batch: list[TranscriptEntry] = []
        async for item in merged:
            if isinstance(item, Message):
                entry = await self._message(item, contact, names, links_valid_for)
            else:
                entry = await _event(item, names)
            batch.append(entry)
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    async def _message(
        self, message: Message, contact: str, names: _Names, valid_for: int
    ) -> TranscriptEntry:
        sender = message.sender
        if sender.type is SenderType.CONTACT:
            name = contact
        elif sender.type is SenderType.AGENT:
            name = await names.of(sender.id, "Agent")
        else:
            name = SENDER_LABELS.get(sender.type, sender.type.value.title())
        return TranscriptEntry(
            at=utc(message.created_at),
            kind=EntryKind.NOTE if message.private else EntryKind.MESSAGE,
            direction=message.direction.value, sender_type=sender.type.value, sender=name,
            type=message.type, text=describe(message),
            attachment=await self._attachment(message, valid_for),
            status=None if message.private else message.status.value, message_id=message.id,
        )  # fmt: skip

    async def _attachment(self, message: Message, valid_for: int) -> str | None:
        if message.media is not None:
            link = await self._links.link(message.media.file_id, expires_in=valid_for)
            if link is not None:
                return link
        content = message.content
        media = content.get("media")
        provider_link = content.get("link")
        if provider_link is None and isinstance(media, dict):
            provider_link = media.get("link")
        if isinstance(provider_link, str):
            return provider_link
        if isinstance(media, dict) and media.get("media_id"):
            return f"(not stored: provider media id {media['media_id']})"
        return None


def describe(message: Message) -> str:
    """The message's text, or a description of its content, and what happened to it."""
    content = message.content
    parts: list[str] = []
    label = _content_label(message.type, content, message.media.filename if message.media else None)
    if label:
        parts.append(label)
    if message.text:
        parts.append(message.text)
    parts.extend(_afterwards(content))
    if message.error is not None:
        reason = message.error.title or message.error.details or message.error.code
        parts.append(f"(not delivered: {reason})")
    return " ".join(parts)


def _content_label(kind: str, content: dict[str, Any], stored_name: str | None) -> str | None:
    kind = content.get("kind", kind) if isinstance(content.get("kind"), str) else kind
    media = content.get("media") if isinstance(content.get("media"), dict) else None
    if kind == "media" or kind in MEDIA_TYPES or media is not None:
        media_kind = content.get("media_kind") or kind
        source = media or content
        filename = stored_name or source.get("filename")
        return f"[{media_kind}{': ' + filename if filename else ''}]"
    reply = content.get("reply")
    if isinstance(reply, dict) and (reply.get("title") or reply.get("id")):
        return f"[chose: {reply.get('title') or reply.get('id')}]"
    if kind == "template":
        return f"[template {content.get('name', '?')} ({content.get('language', '?')})]"
    location = content.get("location") if isinstance(content.get("location"), dict) else None
    if kind == "location" or location is not None:
        place = location or content
        where = ", ".join(
            str(place[key]) for key in ("name", "address") if place.get(key)
        )  # fmt: skip
        coordinates = f"{place.get('latitude')}, {place.get('longitude')}"
        return f"[location {coordinates}{' ' + where if where else ''}]"
    if kind == "interactive":
        interactive = content.get("interactive")
        interactive = interactive if isinstance(interactive, dict) else {}
        body = interactive.get("body")
        text = body.get("text") if isinstance(body, dict) else None
        what = " ".join(str(p) for p in ("interactive", interactive.get("type")) if p)
        return f"[{what}{': ' + text if text else ''}]"
    reaction = content.get("reaction")
    if kind == "reaction":
        emoji = reaction.get("emoji") if isinstance(reaction, dict) else content.get("emoji")
        return f"[reaction {emoji}]" if emoji else "[reaction removed]"
    if content.get("contacts"):
        return f"[shared contacts: {len(content['contacts'])}]"
    if kind == "system":
        return "[system]"
    if kind in ("edit", "delete"):
        return f"[{kind} of an earlier message]"
    if kind == "unsupported":
        return "[unsupported message]"
    return None


def _afterwards(content: dict[str, Any]) -> list[str]:
    notes: list[str] = []
    if content.get("edited_at"):
        original = content.get("original_text")
        notes.append(
            f"(edited at {_when(content['edited_at'])}"
            + (f"; originally: {original})" if original else ")")
        )
    if content.get("deleted_at"):
        notes.append(f"(deleted by the sender at {_when(content['deleted_at'])})")
    if isinstance(content.get("reaction"), str) and content["reaction"]:
        notes.append(f"(reaction: {content['reaction']})")
    if content.get("forwarded"):
        notes.append("(forwarded)")
    return notes


def _when(value: Any) -> str:
    return utc(value).isoformat() if isinstance(value, datetime) else str(value)


async def _event(entry: AuditEntry, names: _Names) -> TranscriptEntry:
    actor = await names.of(entry.actor_id, SYSTEM) if entry.actor_id else SYSTEM
    action = entry.action.removeprefix("conversation.")
    changes = []
    for key, value in entry.changes.items():
        if key in _IGNORED_CHANGE_KEYS:
            continue
        if isinstance(value, dict) and "to" in value:
            changes.append(f"{key}: {value.get('from')} -> {value.get('to')}")
        else:
            changes.append(f"{key}: {value}")
    return TranscriptEntry(
        at=utc(entry.created_at), kind=EntryKind.EVENT,
        sender_type="agent" if entry.actor_id else "system", sender=actor, type=action,
        text=f"{action.replace('_', ' ')}" + (f" ({'; '.join(changes)})" if changes else ""),
    )  # fmt: skip


class _Names:
    """Users' names, read once per transcript."""

    def __init__(self, users: UserRepository) -> None:
        self._users = users
        self._known: dict[str, str] = {}

    async def of(self, user_id: str | None, fallback: str) -> str:
        if user_id is None:
            return fallback
        if user_id not in self._known:
            user = await self._users.get(user_id)
            self._known[user_id] = user.full_name if user is not None else fallback
        return self._known[user_id]


async def _merge(
    messages: AsyncIterator[list[Message]], events: AsyncIterator[list[AuditEntry]]
) -> AsyncIterator[Message | AuditEntry]:
    """The two streams as one, oldest first (each is oldest first already)."""
    left = _flat(messages)
    right = _flat(events)
    a = await anext(left, None)
    b = await anext(right, None)
    while a is not None or b is not None:
        if b is None or (a is not None and utc(a.created_at) <= utc(b.created_at)):
            assert a is not None  # noqa: S101 - by the condition
            yield a
            a = await anext(left, None)
        else:
            yield b
            b = await anext(right, None)


async def _flat(pages: AsyncIterator[list[Any]]) -> AsyncIterator[Any]:
    async for page in pages:
        for item in page:
            yield item
