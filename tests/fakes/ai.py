"""Fakes of the AI chat ports: the models (with a stream the test drives), tenant
settings, the usage ledger, conversations, messages, a turn's writes over them, and stop
signals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import datetime

from api.domain.ai.entities import (
    AiConversation,
    AiMessage,
    AiMessagePage,
    AiTenantSettings,
    UsageRow,
)
from api.domain.ai.ports import (
    AiConversationRepository,
    AiMessageRepository,
    AiSettingsRepository,
    AiTurns,
    ChatModels,
    QuotaHolds,
    StopSignals,
    UsageLedger,
)
from api.domain.ai.values import (
    ChatDelta,
    ModelInfo,
    PromptMessage,
    QuotaSettlement,
    Speaker,
    TokenUsage,
)
from api.domain.tenancy import current_tenant


class Script:
    """A model stream the test drives: push deltas, errors, or None (the end)."""

    def __init__(self) -> None:
        self.items: asyncio.Queue[ChatDelta | BaseException | None] = asyncio.Queue()
        self.closed = asyncio.Event()

    def push(self, *items: ChatDelta | BaseException | str | None) -> None:
        for item in items:
            self.items.put_nowait(ChatDelta(content=item) if isinstance(item, str) else item)

    async def run(self) -> AsyncGenerator[ChatDelta, None]:
        try:
            while True:
                item = await self.items.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.closed.set()


class FakeChatModels(ChatModels):
    """Offers `models`; every stream plays the one `script` (and its prompt is kept)."""

    def __init__(self, *models: ModelInfo) -> None:
        self.models = list(models)
        self.script = Script()
        self.prompts: list[list[PromptMessage]] = []
        self.caps: list[int | None] = []
        self.listed = 0

    async def list_models(self) -> list[ModelInfo]:
        self.listed += 1
        return list(self.models)

    def stream(
        self,
        model: ModelInfo,
        messages: Sequence[PromptMessage],
        *,
        max_output_tokens: int | None = None,
    ) -> AsyncGenerator[ChatDelta, None]:
        self.prompts.append(list(messages))
        self.caps.append(max_output_tokens)
        return self.script.run()


class FakeSettings(AiSettingsRepository):
    """One tenant's AI settings, counting writes."""

    def __init__(self, settings: AiTenantSettings | None = None) -> None:
        self.settings = settings or AiTenantSettings()
        self.puts = 0

    async def get(self) -> AiTenantSettings:
        return self.settings

    async def put(self, settings: AiTenantSettings) -> AiTenantSettings:
        self.puts += 1
        self.settings = settings
        return settings


class FakeLedger(UsageLedger):
    """Tokens used per day; remembers what was added and asked, answers `row_list`."""

    def __init__(self, used: dict[str, int] | None = None) -> None:
        self.used = dict(used or {})
        self.added: list[tuple[str, str, ModelInfo, TokenUsage]] = []
        self.asked: list[str] = []
        self.rows_asked: list[tuple[str, str, str | None]] = []
        self.row_list: list[UsageRow] = []

    async def add(self, *, day: str, user_id: str, model: ModelInfo, usage: TokenUsage) -> None:
        self.added.append((day, user_id, model, usage))
        self.used[day] = self.used.get(day, 0) + usage.total

    async def tenant_total(self, day: str) -> int:
        self.asked.append(day)
        return self.used.get(day, 0)

    async def rows(self, *, since: str, until: str, user_id: str | None) -> list[UsageRow]:
        self.rows_asked.append((since, until, user_id))
        return list(self.row_list)


class FakeQuotaHolds(QuotaHolds):
    """Holds per day in memory, over a `FakeLedger` (a day starts from its total)."""

    def __init__(self, ledger: FakeLedger) -> None:
        self.ledger = ledger
        self.committed: dict[str, int] = {}
        self.holds: dict[str, tuple[str, int, datetime]] = {}  # id: day, tokens, until
        self.settled: list[tuple[str, int, int]] = []  # id, held, used

    async def hold(
        self, *, day: str, hold_id: str, want: int, least: int, quota: int, until: datetime
    ) -> int | None:
        if day not in self.committed:
            self.committed[day] = await self.ledger.tenant_total(day)
        grant = min(want, quota - self.committed[day])
        if grant < least:
            return None
        self.committed[day] += grant
        self.holds[hold_id] = (day, grant, until)
        return grant

    async def settle(self, *, day: str, hold_id: str, held: int, used: int) -> None:
        self.settled.append((hold_id, held, used))
        if self.holds.pop(hold_id, None) is not None:
            self.committed[day] -= held
        if day in self.committed:
            self.committed[day] += used


class FakeConversations(AiConversationRepository):
    """Conversations by id (`c1`, `c2`, ... unless given), stamped with the context's
    tenant; each belongs to its user only."""

    def __init__(self) -> None:
        self.items: dict[str, AiConversation] = {}
        self.deleted: list[str] = []
        self._next = 0

    async def create(self, conversation: AiConversation) -> AiConversation:
        self._next += 1
        conversation_id = conversation.id or f"c{self._next}"
        stored = conversation.model_copy(
            update={"id": conversation_id, "tenant_id": current_tenant()}
        )
        self.items[conversation_id] = stored
        return stored

    async def get(self, user_id: str, conversation_id: str) -> AiConversation | None:
        found = self.items.get(conversation_id)
        return found if found is not None and found.user_id == user_id else None

    async def page(
        self, user_id: str, *, skip: int, limit: int
    ) -> tuple[list[AiConversation], int]:
        raise NotImplementedError

    async def touch(
        self, conversation_id: str, *, messages: int, at: datetime, model: ModelInfo | None = None
    ) -> bool:
        found = self.items.get(conversation_id)
        if found is None:
            return False
        changes: dict[str, object] = {
            "message_count": found.message_count + messages,
            "updated_at": at,
        }
        if model is not None:
            changes |= {"model": model.id, "provider": model.provider}
        self.items[conversation_id] = found.model_copy(update=changes)
        return True

    async def delete(self, user_id: str, conversation_id: str) -> bool:
        if conversation_id in self.items and self.items[conversation_id].user_id == user_id:
            del self.items[conversation_id]
            self.deleted.append(conversation_id)
            return True
        return False

    async def delete_all(self, user_id: str) -> list[str]:
        raise NotImplementedError


class FakeMessages(AiMessageRepository):
    """Messages by id, stamped with the context's tenant. With `gate` set (an unset
    event), adding a reply waits for it, after setting `waiting`."""

    def __init__(self) -> None:
        self.items: dict[str, AiMessage] = {}
        self.deleted: list[str] = []
        self.added = asyncio.Event()
        self.gate: asyncio.Event | None = None
        self.waiting = asyncio.Event()
        self._next = 0

    def new_id(self) -> str:
        self._next += 1
        return f"m{self._next:04d}"

    async def add(self, message: AiMessage) -> AiMessage:
        if message.role is Speaker.ASSISTANT and self.gate is not None:
            self.waiting.set()
            await self.gate.wait()
        assert message.id is not None
        stored = message.model_copy(update={"tenant_id": current_tenant()})
        self.items[message.id] = stored
        self.added.set()
        return stored

    async def latest(self, conversation_id: str, limit: int) -> list[AiMessage]:
        mine = [m for m in self.items.values() if m.conversation_id == conversation_id]
        return sorted(mine, key=lambda m: m.id or "")[-limit:]

    async def page(self, conversation_id: str, *, before: str | None, limit: int) -> AiMessagePage:
        raise NotImplementedError

    async def delete(self, message_id: str) -> None:
        self.items.pop(message_id, None)
        self.deleted.append(message_id)

    async def delete_for(self, conversation_ids: list[str]) -> int:
        raise NotImplementedError

    def replies(self) -> list[AiMessage]:
        return [m for m in self.items.values() if m.role is Speaker.ASSISTANT]


class FakeTurns(AiTurns):
    """A turn's writes over the other fakes, one after the other."""

    def __init__(
        self,
        conversations: FakeConversations,
        messages: FakeMessages,
        ledger: FakeLedger,
        holds: FakeQuotaHolds,
    ) -> None:
        self.conversations = conversations
        self.messages = messages
        self.ledger = ledger
        self.holds = holds

    async def begin(self, question: AiMessage, *, new: AiConversation | None) -> bool:
        await self.messages.add(question)
        if new is not None:
            await self.conversations.create(new)
            return True
        return await self.conversations.touch(
            question.conversation_id, messages=1, at=question.created_at
        )

    async def end(self, reply: AiMessage, *, day: str, settle: QuotaSettlement | None) -> bool:
        assert reply.usage is not None
        model = ModelInfo(id=reply.model, provider=reply.provider)
        await self.messages.add(reply)
        exists = await self.conversations.touch(
            reply.conversation_id, messages=1, at=reply.created_at, model=model
        )
        await self.ledger.add(day=day, user_id=reply.user_id, model=model, usage=reply.usage)
        if settle is not None:
            await self.holds.settle(
                day=settle.day, hold_id=settle.hold_id, held=settle.held, used=settle.used
            )
        return exists


class FakeStops(StopSignals):
    """Stop signals within this process: `request` calls the key's watchers at once."""

    def __init__(self) -> None:
        self.watchers: dict[str, list[Callable[[], None]]] = {}
        self.requested: list[str] = []

    def watch(self, key: str, on_stop: Callable[[], None]) -> Callable[[], None]:
        self.watchers.setdefault(key, []).append(on_stop)

        def release() -> None:
            self.watchers[key].remove(on_stop)
            if not self.watchers[key]:
                del self.watchers[key]

        return release

    async def request(self, key: str) -> None:
        self.requested.append(key)
        for on_stop in list(self.watchers.get(key, [])):
            on_stop()
