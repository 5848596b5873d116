"""AI chat: models offered by providers, conversations, messages and token usage.

A conversation belongs to one user in one tenant; each message is its own document (a
conversation never grows one ever-larger record). The model's reply reaches the client
as a stream of deltas; what was produced is saved when the stream ends, also when it
ends early (client gone, stopped, provider failure): then the reply is `partial`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, Field

from api.domain.errors import InvalidInput, NotFound, RateLimited, ServiceUnavailable

CHARS_PER_TOKEN = 4  # the usual estimate where a provider reports no counts


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters per token), never below one."""
    return max(1, (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN)


class Provider(StrEnum):
    OLLAMA = "ollama"
    OPENAI = "openai"


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class ModelInfo(BaseModel):
    """A model a provider offers, as the provider describes it."""

    id: str
    provider: Provider
    details: dict[str, Any] = Field(default_factory=dict)


class TokenUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = False  # counted by Parley because the provider reported none

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


class FinishReason(StrEnum):
    STOP = "stop"  # the model finished
    LENGTH = "length"  # the provider's output limit
    STOPPED = "stopped"  # a stop request (`POST /conversations/{id}/stop`)
    DISCONNECTED = "disconnected"  # the client went away
    ERROR = "error"  # the provider failed or timed out mid-stream

    @property
    def is_partial(self) -> bool:
        """The reply ended before the model finished it."""
        return self not in (FinishReason.STOP, FinishReason.LENGTH)


class Conversation(BaseModel):
    id: str | None = None
    tenant_id: str = ""
    user_id: str
    title: str
    model: str
    provider: Provider
    message_count: int = 0
    created_at: datetime
    updated_at: datetime


class ChatMessage(BaseModel):
    id: str | None = None
    tenant_id: str = ""
    conversation_id: str
    user_id: str
    role: Role
    content: str
    model: str
    provider: Provider
    partial: bool = False
    finish_reason: FinishReason | None = None
    usage: TokenUsage | None = None
    created_at: datetime


@dataclass(frozen=True)
class PromptMessage:
    """One message sent to a model as context."""

    role: Role
    content: str


@dataclass(frozen=True)
class ChatDelta:
    """A piece of a reply as a provider streams it: text, and usage when it reports some."""

    content: str = ""
    usage: TokenUsage | None = None
    finish_reason: FinishReason | None = None


@dataclass(frozen=True)
class AiTenantSettings:
    """What a tenant's admins chose: which models (None: all the deployment offers), a
    default, and a daily token budget (None: no limit)."""

    allowed_models: tuple[str, ...] | None = None
    default_model: str | None = None
    daily_token_quota: int | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class UsageRow:
    """Tokens used in one UTC day by one user with one model."""

    day: str  # YYYY-MM-DD
    user_id: str
    model: str
    provider: Provider
    input_tokens: int
    output_tokens: int
    messages: int


@dataclass
class MessagePage:
    """Messages in order (oldest first); `next_cursor` reads the older ones, if any."""

    items: list[ChatMessage]
    next_cursor: str | None = None


# Errors ---------------------------------------------------------------------------------


class UnknownModel(InvalidInput):
    """The model is not one this tenant may use (not offered, or not allowed): 422."""

    code = "unknown_model"
    title = "Unknown model"


class ModelNotFound(NotFound):
    """The provider does not have the model it listed (removed since): 404."""

    code = "model_not_found"
    title = "Model not found"


class ProviderUnavailable(ServiceUnavailable):
    """The provider cannot be reached, timed out or failed: 503."""

    code = "provider_unavailable"
    title = "AI provider unavailable"


class ProviderRejected(ProviderUnavailable):
    """The provider refused the request (credentials, its own rate limit, bad request):
    the deployment's problem, not the caller's, so also 503."""

    code = "provider_rejected"
    title = "AI provider refused the request"


class QuotaExceeded(RateLimited):
    """The tenant has used its daily token budget: 429 until the next UTC day."""

    code = "quota_exceeded"
    title = "AI token quota exceeded"


# Ports ------------------------------------------------------------------------------------


class ChatModels(Protocol):
    """Every configured provider behind one face.

    `list_models` answers what the providers offer now (cached briefly), skipping a
    provider that is down; `ProviderUnavailable` only when all are. `stream` raises
    `ModelNotFound`, `ProviderUnavailable` or `ProviderRejected`, before the first delta
    or during the stream."""

    async def list_models(self) -> list[ModelInfo]: ...

    def stream(
        self, model: ModelInfo, messages: Sequence[PromptMessage]
    ) -> AsyncGenerator[ChatDelta, None]: ...


class ConversationRepository(Protocol):
    """Conversations of the current tenant; every call names the owner."""

    async def create(self, conversation: Conversation) -> Conversation: ...

    async def get(self, user_id: str, conversation_id: str) -> Conversation | None: ...

    async def page(
        self, user_id: str, *, skip: int, limit: int
    ) -> tuple[list[Conversation], int]: ...

    async def touch(
        self, conversation_id: str, *, messages: int, at: datetime, model: ModelInfo | None = None
    ) -> bool:
        """Count `messages` more, set `updated_at` (and the model when given); False when
        the conversation no longer exists."""
        ...

    async def delete(self, user_id: str, conversation_id: str) -> bool: ...

    async def delete_all(self, user_id: str) -> list[str]:
        """Delete the user's conversations; answers their ids."""
        ...


class MessageRepository(Protocol):
    """Messages of the current tenant."""

    def new_id(self) -> str: ...

    async def add(self, message: ChatMessage) -> ChatMessage: ...

    async def latest(self, conversation_id: str, limit: int) -> list[ChatMessage]:
        """The newest `limit` messages, oldest first."""
        ...

    async def page(
        self, conversation_id: str, *, before: str | None, limit: int
    ) -> MessagePage: ...

    async def delete(self, message_id: str) -> None: ...

    async def delete_for(self, conversation_ids: list[str]) -> int: ...


class AiSettingsRepository(Protocol):
    async def get(self) -> AiTenantSettings: ...

    async def put(self, settings: AiTenantSettings) -> AiTenantSettings: ...


class UsageLedger(Protocol):
    """Token usage of the current tenant, per UTC day, user and model."""

    async def add(self, *, day: str, user_id: str, model: ModelInfo, usage: TokenUsage) -> None: ...

    async def tenant_total(self, day: str) -> int: ...

    async def rows(self, *, since: str, until: str, user_id: str | None) -> list[UsageRow]: ...


class StopSignals(Protocol):
    """Stop requests for running generations, across API replicas.

    `watch(key, on_stop)` registers a generation running in this process: `on_stop` is
    called (on the event loop) when anybody, in any replica, calls `request(key)`. It
    answers the function that unregisters it."""

    def watch(self, key: str, on_stop: Callable[[], None]) -> Callable[[], None]: ...

    async def request(self, key: str) -> None: ...
