"""The AI context's ports: the models, the stores of conversations, messages, settings
and usage, the quota holds, and the stop signals shared by API replicas."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import datetime
from typing import Protocol

from api.domain.ai.entities import (
    AiConversation,
    AiMessage,
    AiMessagePage,
    AiTenantSettings,
    UsageRow,
)
from api.domain.ai.values import (
    ChatDelta,
    ModelInfo,
    PromptMessage,
    QuotaSettlement,
    TokenUsage,
    ToolCall,
    ToolSpec,
)


class ChatModels(Protocol):
    """Every configured provider behind one face.

    `list_models` answers what the providers offer now (cached briefly), skipping a
    provider that is down; `ProviderUnavailable` only when all are. `stream` raises
    `ModelNotFound`, `ProviderUnavailable` or `ProviderRejected`, before the first delta
    or during the stream; the model writes at most `max_output_tokens` when given."""

    async def list_models(self) -> list[ModelInfo]: ...

    def stream(
        self,
        model: ModelInfo,
        messages: Sequence[PromptMessage],
        *,
        max_output_tokens: int | None = None,
    ) -> AsyncGenerator[ChatDelta, None]: ...


class StructuredChatModels(Protocol):
    """The same providers (`ChatModels`), answering through one tool: the model must call
    `tool`, and its arguments are the answer (a structured decision, never a magic phrase
    in free text). A model that writes the arguments as a JSON object in its text instead
    is understood too; anything else is `ProviderRejected`. Errors as `ChatModels.stream`."""

    async def call_tool(
        self,
        model: ModelInfo,
        messages: Sequence[PromptMessage],
        tool: ToolSpec,
        *,
        max_output_tokens: int | None = None,
    ) -> ToolCall: ...


class AiConversationRepository(Protocol):
    """AI conversations of the current tenant; every call names the owner."""

    async def create(self, conversation: AiConversation) -> AiConversation: ...

    async def get(self, user_id: str, conversation_id: str) -> AiConversation | None: ...

    async def page(
        self, user_id: str, *, skip: int, limit: int
    ) -> tuple[list[AiConversation], int]: ...

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


class AiMessageRepository(Protocol):
    """Messages of the current tenant's AI conversations."""

    def new_id(self) -> str: ...

    async def add(self, message: AiMessage) -> AiMessage: ...

    async def latest(self, conversation_id: str, limit: int) -> list[AiMessage]:
        """The newest `limit` messages, oldest first."""
        ...

    async def page(
        self, conversation_id: str, *, before: str | None, limit: int
    ) -> AiMessagePage: ...

    async def delete(self, message_id: str) -> None: ...

    async def delete_for(self, conversation_ids: list[str]) -> int: ...


class AiTurns(Protocol):
    """The writes that begin and end one turn of a conversation of the current tenant (its
    question, then its reply), each set sent to the database together: one round trip."""

    async def begin(self, question: AiMessage, *, new: AiConversation | None) -> bool:
        """Save `question`: with `new`, that conversation is created with it; otherwise
        its conversation counts one message more, `updated_at` its time. False when that
        conversation no longer exists (the question is saved all the same: the caller
        takes it back)."""
        ...

    async def end(self, reply: AiMessage, *, day: str, settle: QuotaSettlement | None) -> bool:
        """Save `reply` (its `usage` set), count it in its conversation (one message more,
        `updated_at` its time, its model), add its usage to the ledger under `day`, and
        settle the call's quota hold (`settle`; a failure there is logged: the hold
        lapses by itself). False when the conversation no longer exists (the reply is
        saved all the same: the caller deletes it)."""
        ...


class AiSettingsRepository(Protocol):
    """The current tenant's AI settings (defaults when it never saved any)."""

    async def get(self) -> AiTenantSettings: ...

    async def put(self, settings: AiTenantSettings) -> AiTenantSettings: ...


class UsageLedger(Protocol):
    """Token usage of the current tenant, per UTC day, user and model."""

    async def add(self, *, day: str, user_id: str, model: ModelInfo, usage: TokenUsage) -> None: ...

    async def tenant_total(self, day: str) -> int: ...

    async def rows(self, *, since: str, until: str, user_id: str | None) -> list[UsageRow]: ...


class QuotaHolds(Protocol):
    """The current tenant's daily token quota as held and spent tokens, per UTC day.

    A call holds tokens before it reaches a model and settles them when it ends: the hold
    is replaced by what the call really used. Holding is atomic across every process, so
    concurrent calls can never hold more than the quota together. A hold a crashed process
    never settled stops counting once `until` has passed (and with its day in any case).
    The day's spent tokens are also those of `UsageLedger`, which stays what usage reports
    read (a day's first hold starts from the ledger's total)."""

    async def hold(
        self, *, day: str, hold_id: str, want: int, least: int, quota: int, until: datetime
    ) -> int | None:
        """Hold `want` tokens of `day`, or as many as are left when fewer (at least
        `least`); answers how many were held, None when not even `least` fit."""
        ...

    async def settle(self, *, day: str, hold_id: str, held: int, used: int) -> None:
        """Replace the hold (`held` tokens, 0 when none was taken) by the `used` tokens."""
        ...


class StopSignals(Protocol):
    """Stop requests for running generations, across API replicas.

    `watch(key, on_stop)` registers a generation running in this process: `on_stop` is
    called (on the event loop) when anybody, in any replica, calls `request(key)`. It
    answers the function that unregisters it."""

    def watch(self, key: str, on_stop: Callable[[], None]) -> Callable[[], None]: ...

    async def request(self, key: str) -> None: ...
