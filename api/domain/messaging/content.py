"""What Parley sends through a channel, in provider-neutral terms.

`OutboundContent` is a union discriminated by `kind`; each adapter turns it into its
provider's request (and refuses a kind its provider cannot carry with
`ChannelPermanentFailure`). `interactive` keeps Meta's shape, as the public API does.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_FROZEN = ConfigDict(frozen=True)


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    STICKER = "sticker"


class TextContent(BaseModel):
    model_config = _FROZEN
    kind: Literal["text"] = "text"
    body: str = Field(min_length=1, max_length=4096)
    preview_url: bool = False


class TemplateContent(BaseModel):
    model_config = _FROZEN
    kind: Literal["template"] = "template"
    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=15)
    components: list[dict[str, Any]] = Field(default_factory=list)


class MediaContent(BaseModel):
    """A file by public `link`, by the provider's `media_id`, or its bytes to upload
    (`data`, for providers that take uploads): exactly one."""

    model_config = _FROZEN
    kind: Literal["media"] = "media"
    media_kind: MediaKind
    link: str | None = None
    media_id: str | None = None
    data: bytes | None = Field(default=None, repr=False)
    caption: str | None = Field(default=None, max_length=1024)
    filename: str | None = Field(default=None, max_length=255)

    @model_validator(mode="after")
    def _one_source(self) -> MediaContent:
        if [self.link, self.media_id, self.data].count(None) != 2:
            raise ValueError("give exactly one of link, media_id or data")
        return self


class LocationContent(BaseModel):
    model_config = _FROZEN
    kind: Literal["location"] = "location"
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = Field(default=None, max_length=1000)
    address: str | None = Field(default=None, max_length=1000)


class InteractiveContent(BaseModel):
    """Buttons, lists, call-to-action URLs...: the provider's own `interactive` object."""

    model_config = _FROZEN
    kind: Literal["interactive"] = "interactive"
    interactive: dict[str, Any]


class ReactionContent(BaseModel):
    """An emoji on one of the conversation's messages (by its provider id); an empty
    emoji removes the reaction."""

    model_config = _FROZEN
    kind: Literal["reaction"] = "reaction"
    message_id: str = Field(min_length=1)
    emoji: str = Field(max_length=16)


OutboundContent = Annotated[
    TextContent
    | TemplateContent
    | MediaContent
    | LocationContent
    | InteractiveContent
    | ReactionContent,
    Field(discriminator="kind"),
]


class Recipient(BaseModel):
    """Who receives: a phone number (E.164, with or without '+') or the provider's user
    id (WhatsApp's business-scoped user id, for customers without a phone number)."""

    model_config = _FROZEN
    phone: str | None = None
    user_id: str | None = None

    @model_validator(mode="after")
    def _someone(self) -> Recipient:
        if not (self.phone or self.user_id):
            raise ValueError("a recipient needs a phone or a user id")
        return self


class OutboundMessage(BaseModel):
    model_config = _FROZEN
    recipient: Recipient
    content: OutboundContent
    reply_to: str | None = None  # the provider id of the message answered
    tracker: str | None = Field(default=None, max_length=512)  # echoed on status updates
    # Messenger/Instagram: past the 24-hour window, sent with Meta's HUMAN_AGENT tag (7 days)
    human_agent: bool = False


class SendResult(BaseModel):
    """The provider accepted the message (not delivered yet: statuses follow)."""

    model_config = _FROZEN
    external_id: str
    recipient_phone: str | None = None  # the provider's normalised number, when it says
    recipient_user_id: str | None = None
    # The provider's id of the file the message carried, when it gives one that a later
    # `MediaContent.media_id` can send again instead of the bytes (Telegram's `file_id`)
    media_id: str | None = None
