"""`POST /messages`: the request (Meta's style: `type` and an object under that name)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from api.domain.messaging.content import (
    LocationContent,
    MediaKind,
    TemplateContent,
    TextContent,
)
from api.domain.messaging.outbound import (
    CheckedInteractive,
    DraftContent,
    MediaDraft,
    OutboundDraft,
    ReactionDraft,
)

MessageType = Literal[
    "text", "template", "image", "video", "audio", "document", "sticker", "location",
    "interactive", "reaction",
]  # fmt: skip
PAYLOAD_FIELDS: tuple[str, ...] = MessageType.__args__  # type: ignore[attr-defined]
_STRICT = ConfigDict(extra="forbid")


class SendTextIn(BaseModel):
    model_config = _STRICT
    body: str = Field(min_length=1, max_length=4096)
    preview_url: bool = False


class SendTemplateIn(BaseModel):
    model_config = _STRICT
    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=15, description="e.g. `en_US`")
    components: list[dict[str, Any]] = Field(
        default_factory=list, description="Meta's template components (header, body...)."
    )


class SendMediaIn(BaseModel):
    model_config = _STRICT
    file_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="One of the tenant's files."
    )
    link: str | None = Field(
        default=None, min_length=8, max_length=2048, description="A public http(s) URL."
    )
    caption: str | None = Field(default=None, max_length=1024)
    filename: str | None = Field(default=None, max_length=255, description="Documents only.")

    @model_validator(mode="after")
    def _one_source(self) -> SendMediaIn:
        if (self.file_id is None) == (self.link is None):
            raise ValueError("give exactly one of file_id or link")
        if self.link is not None and not self.link.startswith(("https://", "http://")):
            raise ValueError("link must be an http(s) URL")
        return self


class SendLocationIn(BaseModel):
    model_config = _STRICT
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = Field(default=None, max_length=1000)
    address: str | None = Field(default=None, max_length=1000)


class SendReactionIn(BaseModel):
    model_config = _STRICT
    message_id: str = Field(min_length=1, max_length=64, description="A Parley message id.")
    emoji: str = Field(max_length=16, description='An emoji; "" removes the reaction.')


class MessageSendIn(BaseModel):
    """By `conversation_id`, or by `channel_id` + `to`; then `type` and its object."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"conversation_id": "6650f0c2a1b2c3d4e5f60718", "type": "text",
                 "text": {"body": "Hello! How can we help?"}},
                {"channel_id": "6650f0c2a1b2c3d4e5f60719", "to": "+15551234567",
                 "type": "template",
                 "template": {"name": "order_update", "language": "en_US", "components": []}},
            ]
        },
    )  # fmt: skip

    conversation_id: str | None = Field(default=None, min_length=1, max_length=64)
    channel_id: str | None = Field(default=None, min_length=1, max_length=64)
    to: str | None = Field(
        default=None,
        min_length=3,
        max_length=64,
        description="With `channel_id`: on WhatsApp an E.164 phone number or the "
        "business-scoped user id (BSUID); on Telegram the customer's chat id (digits); on "
        "Messenger their page-scoped id (PSID); on Instagram their Instagram-scoped id "
        "(IGSID).",
    )
    type: MessageType
    text: SendTextIn | None = None
    template: SendTemplateIn | None = None
    image: SendMediaIn | None = None
    video: SendMediaIn | None = None
    audio: SendMediaIn | None = None
    document: SendMediaIn | None = None
    sticker: SendMediaIn | None = None
    location: SendLocationIn | None = None
    interactive: dict[str, Any] | None = Field(
        default=None, description="Meta's `interactive` object (button, list, cta_url, flow...)."
    )
    reaction: SendReactionIn | None = None
    reply_to: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="A Parley message id of the same conversation that this answers.",
    )

    @model_validator(mode="after")
    def _shape(self) -> MessageSendIn:
        if (self.conversation_id is None) == (self.channel_id is None and self.to is None):
            raise ValueError("give conversation_id, or channel_id and to")
        if self.conversation_id is None and (self.channel_id is None or self.to is None):
            raise ValueError("channel_id and to go together")
        if getattr(self, self.type) is None:
            raise ValueError(f"type {self.type} needs the object `{self.type}`")
        others = [f for f in PAYLOAD_FIELDS if f != self.type and getattr(self, f) is not None]
        if others:
            raise ValueError(f"type {self.type} takes no {', '.join(others)}")
        if self.type == "interactive":
            try:
                CheckedInteractive(interactive=self.interactive or {})
            except ValidationError as exc:
                raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
        return self

    def draft(self) -> OutboundDraft:
        return OutboundDraft(
            conversation_id=self.conversation_id,
            channel_id=self.channel_id,
            to=self.to,
            content=self._content(),
            reply_to=self.reply_to,
        )

    def _content(self) -> DraftContent:
        payload = getattr(self, self.type)
        match self.type:
            case "text":
                return TextContent(**payload.model_dump())
            case "template":
                return TemplateContent(**payload.model_dump())
            case "location":
                return LocationContent(**payload.model_dump())
            case "interactive":
                return CheckedInteractive(interactive=payload)
            case "reaction":
                return ReactionDraft(**payload.model_dump())
        return MediaDraft(media_kind=MediaKind(self.type), **payload.model_dump())
