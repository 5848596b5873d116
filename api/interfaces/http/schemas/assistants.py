"""AI assistants: what clients send and read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.domain.ai.assistant_runs import AssistantStats, HandoffReason
from api.domain.ai.assistants import Assistant, AssistantPage, FollowUp, HandoffRules
from api.domain.ai.values import TokenUsage
from api.domain.business_hours import BusinessHours
from api.usecases.assistants.manage import (
    MAX_CHANNELS,
    MAX_INSTRUCTIONS,
    MAX_LANGUAGES,
    MAX_NAME,
    MAX_TEXT,
    MAX_TOKENS_PER_DAY,
)
from api.usecases.assistants.try_assistant import TrialAnswer

Ids = list[Annotated[str, Field(min_length=1, max_length=64)]]
Languages = (
    Literal["auto"]
    | Annotated[
        list[Annotated[str, Field(min_length=2, max_length=2)]],
        Field(min_length=1, max_length=MAX_LANGUAGES),
    ]
)
LANGUAGES = (
    '`"auto"`: the customer\'s language, detected on each message; or ISO 639-1 codes, '
    "the first being the default when the customer's is not among them."
)


class AssistantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME)
    model: str = Field(min_length=1, max_length=200, description="One of `GET /ai/models`.")
    instructions: str = Field(default="", max_length=MAX_INSTRUCTIONS)
    channel_ids: Ids = Field(default_factory=list, max_length=MAX_CHANNELS)
    enabled: bool = True
    languages: Languages = Field(default="auto", description=LANGUAGES)
    handoff: HandoffRules = Field(default_factory=HandoffRules)
    business_hours: BusinessHours | None = Field(
        default=None, description="When the assistant answers (null: always)."
    )
    out_of_hours_message: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    max_tokens_per_day: int | None = Field(default=None, ge=1, le=MAX_TOKENS_PER_DAY)
    follow_up: FollowUp | None = Field(
        default=None,
        description="What an idle bot conversation gets once before it is resolved.",
    )

    def fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in type(self).model_fields}


class AssistantUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    model: str | None = Field(default=None, min_length=1, max_length=200)
    instructions: str | None = Field(default=None, max_length=MAX_INSTRUCTIONS)
    channel_ids: Ids | None = Field(default=None, max_length=MAX_CHANNELS)
    enabled: bool | None = None
    languages: Languages | None = Field(default=None, description=LANGUAGES)
    handoff: HandoffRules | None = None
    business_hours: BusinessHours | None = None
    out_of_hours_message: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    max_tokens_per_day: int | None = Field(default=None, ge=1, le=MAX_TOKENS_PER_DAY)
    follow_up: FollowUp | None = None

    def fields(self) -> dict[str, Any]:
        """The fields sent; null clears the nullable ones, and is ignored for the others."""
        nullable = {"business_hours", "out_of_hours_message", "max_tokens_per_day", "follow_up"}
        return {
            name: getattr(self, name)
            for name in self.model_fields_set
            if getattr(self, name) is not None or name in nullable
        }


class AssistantOut(BaseModel):
    id: str
    name: str
    model: str
    instructions: str
    channel_ids: list[str]
    enabled: bool
    languages: str | list[str]
    handoff: HandoffRules
    business_hours: BusinessHours | None
    out_of_hours_message: str | None
    max_tokens_per_day: int | None
    follow_up: FollowUp | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, assistant: Assistant) -> AssistantOut:
        return cls.model_validate(assistant.model_dump(exclude={"tenant_id"}))


class AssistantPageOut(BaseModel):
    items: list[AssistantOut]
    total: int
    page: int
    page_size: int

    @classmethod
    def of(cls, found: AssistantPage, page: int, page_size: int) -> AssistantPageOut:
        return cls(
            items=[AssistantOut.of(a) for a in found.items],
            total=found.total, page=page, page_size=page_size,
        )  # fmt: skip


class AssistantStatsOut(AssistantStats):
    """`conversations`: handled by the assistant (any work in them); `resolved_without_
    handoff`: resolved by the assistant and never handed over; `handoff_reasons`:
    `request`, `keyword`, `after_turns`, `unsure`, `budget`, `error`; latency: from the
    inbound message's arrival to the reply queued for sending, in ms."""


class AssistantTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(
        min_length=1, max_length=MAX_TEXT, description="What a customer would write."
    )


class SourceOut(BaseModel):
    """A passage of one of the assistant's documents that the answer used."""

    document_id: str
    file_id: str
    filename: str
    text: str
    score: float = Field(description="Cosine similarity to the message, -1 to 1.")


class AssistantTestOut(BaseModel):
    action: Literal["reply", "handoff"]
    text: str | None = Field(description="`reply`: what the customer would get.")
    reason: HandoffReason | None = Field(
        description="`handoff`: `request`, `keyword`, `unsure` or `error`."
    )
    summary: str | None = Field(description="`handoff`: the note the agents would get.")
    language: str | None
    sources: list[SourceOut]
    usage: TokenUsage

    @classmethod
    def of(cls, answer: TrialAnswer) -> AssistantTestOut:
        return cls(
            action="handoff" if answer.reason is not None else "reply",
            text=answer.text, reason=answer.reason, summary=answer.summary,
            language=answer.language, usage=answer.usage,
            sources=[
                SourceOut(document_id=s.document_id, file_id=s.file_id, filename=s.filename,
                          text=s.text, score=s.score)
                for s in answer.sources
            ],
        )  # fmt: skip
