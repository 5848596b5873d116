"""Shared rules of the sending path: its policy (retries, waits, key retention), the job
names, recipients, request fingerprints and how a stored message becomes what a channel
sends."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from api.common.background import BoundedBackground
from api.domain.errors import TemporaryFailure
from api.domain.messaging.channels import (
    Channel,
    ChannelType,
    InstagramSettings,
    MessengerSettings,
)
from api.domain.messaging.contacts import ContactIdentity
from api.domain.messaging.content import (
    MediaContent,
    OutboundContent,
    ReactionContent,
    Recipient,
)
from api.domain.messaging.conversations import ContactSummary, Conversation
from api.domain.messaging.messages import Message
from api.domain.messaging.outbound import (
    DraftContent,
    InvalidRecipient,
    MediaDraft,
    OutboundDraft,
    ReactionDraft,
)

SEND_MESSAGE_JOB = "parley.messaging.send_message"
SWEEP_OUTBOUND_JOB = "parley.messaging.sweep_outbound"
READ_RECEIPT_JOB = "parley.messaging.send_read_receipt"

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_USER_ID = re.compile(r"^[A-Z]{2}\.[A-Za-z0-9]{4,60}$")  # WhatsApp's BSUID: "US.1349..."
# The other providers' user ids, as `to` names them: (pattern, what `to` must be)
_PROVIDER_USER_IDS: dict[ChannelType, tuple[re.Pattern[str], str]] = {
    ChannelType.TELEGRAM: (
        re.compile(r"^[1-9][0-9]{0,19}$"),
        "the customer's Telegram chat id (their user id, digits: 424242); group chats "
        "are not served",
    ),
    ChannelType.MESSENGER: (
        re.compile(r"^[1-9][0-9]{4,31}$"),
        "the customer's page-scoped id (PSID, digits) as Messenger gave it",
    ),
    ChannelType.INSTAGRAM: (
        re.compile(r"^[1-9][0-9]{4,31}$"),
        "the customer's Instagram-scoped id (IGSID, digits) as Instagram gave it",
    ),
}
_DRAFT_CONTENT: TypeAdapter[Any] = TypeAdapter(DraftContent)
HUMAN_AGENT_WINDOW = timedelta(days=7)  # Meta's HUMAN_AGENT tag, after the 24 hours


class SentRecords(BoundedBackground):
    """The `sent` records of a worker process's sends, stored on its event loop once the
    provider accepted each message, after the send job's thread was let go: at most
    `limit` at once (`WORKER_CONCURRENCY`, the process's threads), so a database slower
    than the sends holds the threads (back-pressure) instead of letting records queue."""


@dataclass(frozen=True)
class SendPolicy:
    max_attempts: int = 6
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 300.0
    rate_max_wait_seconds: float = 60.0
    idempotency_wait_seconds: float = 5.0
    # How long one run of the send job holds a message: its rate wait, the provider call
    # (its timeout) and a margin. A second run meanwhile waits for it.
    lease_seconds: float = 150.0
    # A message still queued this long after it was created, and held by no run, had its
    # job lost (a broker that lost its data, a job that could not be queued): re-queued.
    sweep_after_seconds: float = 900.0
    sweep_batch: int = 500
    # A message re-queued this often and still queued is failed: its job keeps dying (a
    # message no run can handle), and sweeping it forever would hide that.
    sweep_max_requeues: int = 3
    # Sends of one channel at its provider at once (all workers; 0: no cap), and when a
    # send that found them all taken runs again (it holds no thread meanwhile).
    channel_max_in_flight: int = 0
    channel_busy_retry_seconds: float = 1.0


def recipient_identity(to: str) -> ContactIdentity:
    """`to` on a WhatsApp channel as a contact identity: an E.164 number (its digits are
    WhatsApp's wa_id) or a business-scoped user id; anything else is `InvalidRecipient`."""
    value = to.strip()
    if _E164.match(value):
        return ContactIdentity(wa_id=value[1:])
    if _USER_ID.match(value):
        return ContactIdentity(bsuid=value)
    raise InvalidRecipient(
        "`to` must be a phone number in E.164 (+15551234567) or a business-scoped user id."
    )


def provider_user_id(type: ChannelType, to: str) -> str:
    """`to` as the user id of a customer on a Telegram, Messenger or Instagram channel
    (where they are known by the provider's id, not a phone number); anything else is
    `InvalidRecipient`, saying what the channel's type takes."""
    pattern, expected = _PROVIDER_USER_IDS[type]
    value = to.strip()
    if not pattern.match(value):
        raise InvalidRecipient(f"`to` on a {type.value} channel must be {expected}.")
    return value


def fingerprint(draft: OutboundDraft) -> str:
    """A digest of the request, to tell a retry (same body) from a reused key."""
    canonical = json.dumps(draft.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def stored_content(draft: OutboundDraft, **resolved: Any) -> dict[str, Any]:
    """What the message keeps of its draft (enough to send it again from the job)."""
    return {**draft.content.model_dump(mode="json", exclude_none=True), **resolved}


def draft_of(message: Message) -> Any:
    """The draft content a queued message was stored with."""
    return _DRAFT_CONTENT.validate_python(message.content)


def sendable(
    content: Any, *, link: str | None = None, data: bytes | None = None
) -> OutboundContent:
    """The provider-neutral content of a stored draft: a stored file by its `link` (or
    its bytes, `data`, for uploads), a reaction by the provider id of its target (kept as
    `target_external_id`)."""
    if isinstance(content, MediaDraft):
        return MediaContent(
            media_kind=content.media_kind,
            link=None if data is not None else link or content.link,
            data=data,
            caption=content.caption,
            filename=content.filename,
        )
    if isinstance(content, ReactionDraft):
        raise AssertionError("reactions are built with their target's provider id")
    result: OutboundContent = content
    return result


def reaction(message: Message) -> ReactionContent:
    return ReactionContent(
        message_id=str(message.content["target_external_id"]),
        emoji=str(message.content.get("emoji", "")),
    )


class SendInProgress(TemporaryFailure):
    """Another run of the send job holds the message (a duplicate delivery of the job, or
    a run on a worker that died): retry once its claim has run out."""

    code = "send_in_progress"
    title = "Send in progress"

    def __init__(self, retry_after: float) -> None:
        super().__init__("Another run is sending this message.")
        self.retry_after = max(0.0, retry_after)


def human_agent_allowed(channel: Channel) -> bool:
    """A Messenger or Instagram channel whose app may use Meta's HUMAN_AGENT tag (a
    channel setting): agents may answer for 7 days after the customer's last message."""
    settings = channel.settings
    return isinstance(settings, MessengerSettings | InstagramSettings) and settings.human_agent_tag


def window_end(channel: Channel, conversation: Conversation | None) -> datetime | None:
    """Until when free-form messages may go to the conversation's customer: the 24-hour
    window, or 7 days after their last message where the human-agent tag is allowed."""
    if conversation is None:
        return None
    expires = conversation.window_expires_at
    if human_agent_allowed(channel) and conversation.last_inbound_at is not None:
        tagged = conversation.last_inbound_at + HUMAN_AGENT_WINDOW
        return tagged if expires is None or tagged > expires else expires
    return expires


def needs_human_agent_tag(channel: Channel, conversation: Conversation, now: datetime) -> bool:
    """A send past the 24-hour window that the human-agent tag allows."""
    expires = conversation.window_expires_at
    return human_agent_allowed(channel) and (expires is None or expires <= now)


def whatsapp_recipient(contact: ContactSummary) -> Recipient:
    """Who a WhatsApp message to the contact goes to: the number, else the BSUID."""
    return Recipient(phone=contact.phone, user_id=None if contact.phone else contact.bsuid)


def queued_recipient(channel: Channel, contact: ContactSummary) -> Recipient | None:
    """The recipient a message keeps from when it is queued, so that its send reads no
    conversation: WhatsApp's (the contact's number, else BSUID), when there is one. Other
    providers' (a user id on the channel's account, and Messenger's human-agent tag) are
    resolved when the message is sent."""
    if channel.type is not ChannelType.WHATSAPP or not (contact.phone or contact.bsuid):
        return None
    return whatsapp_recipient(contact)
