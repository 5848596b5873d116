"""Request and response bodies of the AI chat routes (`/api/v1/ai`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.domain.ai.entities import AiConversation, AiMessage, AiTenantSettings, UsageRow
from api.domain.ai.values import ModelInfo, Provider, Speaker, TokenUsage
from api.usecases.ai.get_usage import UsageReport

_STRICT = ConfigDict(extra="forbid")
# A day's tokens for a whole tenant: far above any real use, far below what MongoDB's
# 8-byte integers hold (a larger quota is a 422, not a number the database refuses).
MAX_DAILY_TOKEN_QUOTA = 10**12
ModelName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Role(StrEnum):
    # The domain's `Speaker` under the name the API has always given it (the OpenAPI
    # document's `Role` schema); no docstring, which would become its description.
    SYSTEM = Speaker.SYSTEM.value
    USER = Speaker.USER.value
    ASSISTANT = Speaker.ASSISTANT.value


class AskIn(BaseModel):
    model_config = _STRICT

    message: str = Field(min_length=1, description="The user's message.")
    model: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="A model id of `GET /ai/models` (default: the conversation's).",
    )  # fmt: skip
    conversation_id: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="Continue this conversation; omitted: a new one.",
    )  # fmt: skip


class ModelOut(BaseModel):
    id: str
    provider: Provider
    default: bool = False
    details: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, model: ModelInfo, default: str | None) -> ModelOut:
        return cls(
            id=model.id, provider=model.provider, default=model.id == default, details=model.details
        )


class ModelListOut(BaseModel):
    items: list[ModelOut]


class UsageOut(BaseModel):
    input_tokens: int
    output_tokens: int
    estimated: bool = Field(
        default=False, description="Counted by Parley (about 4 characters a token)."
    )

    @classmethod
    def of(cls, usage: TokenUsage) -> UsageOut:
        return cls(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            estimated=usage.estimated,
        )


class MessageOut(BaseModel):
    id: str
    conversation_id: str
    role: Role
    content: str
    model: str
    provider: Provider
    partial: bool
    finish_reason: str | None
    usage: UsageOut | None
    created_at: datetime

    @classmethod
    def of(cls, message: AiMessage) -> MessageOut:
        return cls(
            id=message.id or "",
            conversation_id=message.conversation_id,
            role=Role(message.role),
            content=message.content,
            model=message.model,
            provider=message.provider,
            partial=message.partial,
            finish_reason=message.finish_reason.value if message.finish_reason else None,
            usage=UsageOut.of(message.usage) if message.usage else None,
            created_at=message.created_at,
        )


class ConversationOut(BaseModel):
    id: str
    title: str
    model: str
    provider: Provider
    created_at: datetime
    updated_at: datetime
    message_count: int

    @classmethod
    def of(cls, conversation: AiConversation) -> ConversationOut:
        return cls(
            id=conversation.id or "",
            title=conversation.title,
            model=conversation.model,
            provider=conversation.provider,
            created_at=conversation.created_at,
            updated_at=conversation.updated_at,
            message_count=conversation.message_count,
        )


class MessagePageOut(BaseModel):
    items: list[MessageOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for older messages.")


class ConversationDetailOut(ConversationOut):
    messages: MessagePageOut


class AiSettingsIn(BaseModel):
    model_config = _STRICT

    allowed_models: list[ModelName] | None = Field(
        default=None,
        max_length=200,
        description="Model ids this tenant may use; null: every model the deployment offers.",
    )
    default_model: ModelName | None = None
    daily_token_quota: int | None = Field(
        default=None,
        ge=1,
        le=MAX_DAILY_TOKEN_QUOTA,
        description="Tokens (in + out) per UTC day, at most 10^12; null: no limit.",
    )


class AiSettingsOut(BaseModel):
    allowed_models: list[str] | None
    default_model: str | None
    daily_token_quota: int | None
    updated_at: datetime | None

    @classmethod
    def of(cls, settings: AiTenantSettings) -> AiSettingsOut:
        return cls(
            allowed_models=list(settings.allowed_models)
            if settings.allowed_models is not None
            else None,
            default_model=settings.default_model,
            daily_token_quota=settings.daily_token_quota,
            updated_at=settings.updated_at,
        )


class UsageRowOut(BaseModel):
    day: str
    user_id: str
    model: str
    provider: Provider
    input_tokens: int
    output_tokens: int
    messages: int

    @classmethod
    def of(cls, row: UsageRow) -> UsageRowOut:
        return cls(**row.__dict__)


class UsageReportOut(BaseModel):
    since: str
    until: str
    items: list[UsageRowOut]
    input_tokens: int
    output_tokens: int
    daily_token_quota: int | None
    used_today: int

    @classmethod
    def of(cls, report: UsageReport) -> UsageReportOut:
        return cls(
            since=report.since,
            until=report.until,
            items=[UsageRowOut.of(row) for row in report.rows],
            input_tokens=report.input_tokens,
            output_tokens=report.output_tokens,
            daily_token_quota=report.daily_token_quota,
            used_today=report.used_today,
        )
