"""What a channel's webhook tells Parley, in provider-neutral terms.

An adapter parses one webhook delivery into a list of `InboundEvent`s, one per batched
item (each message, status, error), so each is processed (and deduplicated by `key`) on
its own. `account_id` names the provider account the item is for (WhatsApp's
`phone_number_id`), so the platform's own webhook can route it to a channel; a template
event names the business account instead (WhatsApp's WABA id, `routes_by_business_account`),
which every channel on that account shares.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_FROZEN = ConfigDict(frozen=True)


class ProviderError(BaseModel):
    """One error as the provider reports it (code, title, message, details)."""

    model_config = _FROZEN
    code: int | None = None
    title: str | None = None
    message: str | None = None
    details: str | None = None


class Sender(BaseModel):
    """Who wrote: the provider's user id (WhatsApp's BSUID, always present since 2026), the
    phone number when the customer shares it, their username and profile name."""

    model_config = _FROZEN
    user_id: str | None = None
    phone: str | None = None  # digits, no '+' (WhatsApp's wa_id)
    username: str | None = None
    name: str | None = None
    parent_user_id: str | None = None


class MessageKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    VOICE = "voice"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    BUTTON_REPLY = "button_reply"  # an interactive reply button pressed
    LIST_REPLY = "list_reply"  # an interactive list row chosen
    FLOW_REPLY = "flow_reply"  # a form (WhatsApp Flow) submitted
    TEMPLATE_BUTTON = "template_button"  # a quick-reply button of a template pressed
    REACTION = "reaction"
    EDIT = "edit"  # the customer edited an earlier message
    DELETE = "delete"  # the customer deleted (revoked) an earlier message
    ORDER = "order"
    SYSTEM = "system"  # number or user id changed, ...
    REQUEST_WELCOME = "request_welcome"
    STORY_MENTION = "story_mention"  # the customer mentioned the business in a story
    UNSUPPORTED = "unsupported"


class InboundMedia(BaseModel):
    model_config = _FROZEN
    media_id: str
    mime_type: str | None = None
    sha256: str | None = None
    filename: str | None = None
    caption: str | None = None
    voice: bool = False
    animated: bool = False


class Location(BaseModel):
    model_config = _FROZEN
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None
    url: str | None = None


class Reply(BaseModel):
    """A choice the customer made: a button or list row (`id`, `title`), a template
    button (`payload`, `title`), a flow's answers (`data`)."""

    model_config = _FROZEN
    id: str | None = None
    title: str | None = None
    description: str | None = None
    payload: str | None = None
    data: dict[str, Any] | None = None


class Reaction(BaseModel):
    model_config = _FROZEN
    message_id: str  # the provider id of the message reacted to
    emoji: str | None = None  # None: the reaction was removed


class Story(BaseModel):
    """An Instagram story a message is about: one of the business's the customer replied
    to (`reply`), or one of the customer's that mentions the business (`mention`). Its
    `url` is Meta's CDN link (it expires with the story; the file is never copied)."""

    model_config = _FROZEN
    type: Literal["reply", "mention"]
    id: str | None = None
    url: str | None = None


class SystemChange(BaseModel):
    """A system message: `user_changed_number` (new `phone`), `user_changed_user_id` (new
    `user_id`), ..."""

    model_config = _FROZEN
    type: str
    body: str | None = None
    new_phone: str | None = None
    new_user_id: str | None = None


class MessageReceived(BaseModel):
    model_config = _FROZEN
    event: Literal["message_received"] = "message_received"
    key: str  # unique per effect: the provider's message id
    account_id: str
    external_id: str
    kind: MessageKind
    sender: Sender
    timestamp: datetime
    text: str | None = None  # text, caption, button/list title, edited text
    media: InboundMedia | None = None
    location: Location | None = None
    contacts: list[dict[str, Any]] = Field(default_factory=list)  # shared vCards, as sent
    reply: Reply | None = None
    reaction: Reaction | None = None
    reply_to: str | None = None  # the provider id of the message answered (context)
    forwarded: bool = False
    target_id: str | None = None  # edit/delete: the provider id of the original message
    edited: MessageReceived | None = None  # edit: the message as it now reads
    system: SystemChange | None = None
    referral: dict[str, Any] | None = None  # click-to-chat ad, as sent
    story: Story | None = None  # Instagram: a story reply or mention
    errors: list[ProviderError] = Field(default_factory=list)  # unsupported, ...
    # A button press the provider waits to hear was handled (Telegram's callback query id)
    press_id: str | None = None


class MessageEchoed(BaseModel):
    """A message the business's own account sent (Messenger's and Instagram's `is_echo`):
    Parley's own sends (known by `external_id`, or by the `tracker` they carried) change
    nothing; one sent from outside Parley (Meta's inbox, another tool) joins the
    conversation as an outbound message."""

    model_config = _FROZEN
    event: Literal["message_echoed"] = "message_echoed"
    key: str
    account_id: str
    external_id: str
    kind: MessageKind
    recipient: Sender  # the customer it went to
    timestamp: datetime
    text: str | None = None
    media: InboundMedia | None = None
    reply_to: str | None = None
    tracker: str | None = None  # Messenger's `metadata`, what Parley's send carried
    app_id: str | None = None


class DeliveryState(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"
    DELETED = "deleted"


class Pricing(BaseModel):
    model_config = _FROZEN
    model: str | None = None  # e.g. PMP (per-message pricing)
    category: str | None = None  # marketing, utility, authentication, service, ...
    type: str | None = None  # regular, free_customer_service, free_entry_point
    billable: bool | None = None


class StatusUpdated(BaseModel):
    model_config = _FROZEN
    event: Literal["status_updated"] = "status_updated"
    key: str  # external_id + state
    account_id: str
    external_id: str  # the provider id of the message sent
    state: DeliveryState
    timestamp: datetime
    recipient_phone: str | None = None
    recipient_user_id: str | None = None
    conversation_id: str | None = None
    pricing: Pricing | None = None
    tracker: str | None = None
    errors: list[ProviderError] = Field(default_factory=list)


class TemplateChange(StrEnum):
    STATUS = "status"
    QUALITY = "quality"
    CATEGORY = "category"


class TemplateUpdated(BaseModel):
    model_config = _FROZEN
    event: Literal["template_updated"] = "template_updated"
    key: str
    account_id: str  # the business account (WhatsApp's WABA id)
    change: TemplateChange
    template_id: str
    name: str | None = None
    language: str | None = None
    status: str | None = None  # APPROVED, REJECTED, PAUSED, DISABLED, ...
    reason: str | None = None
    quality: str | None = None
    category: str | None = None
    previous_category: str | None = None
    timestamp: datetime | None = None


class MarketingPreference(BaseModel):
    """The customer stopped (or resumed) marketing messages."""

    model_config = _FROZEN
    event: Literal["marketing_preference"] = "marketing_preference"
    key: str
    account_id: str
    sender: Sender
    value: str  # stop | resume
    timestamp: datetime | None = None


class ChannelErrors(BaseModel):
    """Errors about the account or the delivery rather than one message."""

    model_config = _FROZEN
    event: Literal["channel_errors"] = "channel_errors"
    key: str
    account_id: str
    errors: list[ProviderError]


class Unrecognized(BaseModel):
    """An item this adapter does not interpret (another webhook field, a new shape): kept
    for the record, never an error."""

    model_config = _FROZEN
    event: Literal["unrecognized"] = "unrecognized"
    key: str
    account_id: str | None = None
    field: str
    raw: dict[str, Any]


InboundEvent = Annotated[
    MessageReceived
    | MessageEchoed
    | StatusUpdated
    | TemplateUpdated
    | MarketingPreference
    | ChannelErrors
    | Unrecognized,
    Field(discriminator="event"),
]


def routes_by_business_account(event: InboundEvent) -> bool:
    """True when `event.account_id` is a business account (shared by its numbers), not
    one number: template events."""
    return isinstance(event, TemplateUpdated)
