"""AI conversations, messages, the usage ledger and settings on a real Mongo-wire server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from api.domain.ai.entities import AiConversation, AiMessage, AiTenantSettings, UsageRow
from api.domain.ai.values import FinishReason, ModelInfo, Provider, Speaker, TokenUsage
from api.domain.errors import TenantRequired
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.ai.conversations import (
    AiConversationDocument,
    BeanieAiConversationRepository,
)
from api.infrastructure.persistence.ai.messages import AiMessageDocument, BeanieAiMessageRepository
from api.infrastructure.persistence.ai.settings import MongoAiSettingsRepository
from api.infrastructure.persistence.ai.usage import MongoUsageLedger

TENANT_A = TenantId("a" * 24)
TENANT_B = TenantId("b" * 24)
LLAMA = ModelInfo(id="llama3.2:latest", provider=Provider.OLLAMA)
GPT = ModelInfo(id="gpt-4o-mini", provider=Provider.OPENAI)
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def conversation(user_id: str, title: str, at: datetime = T0) -> AiConversation:
    return AiConversation(
        user_id=user_id, title=title, model=LLAMA.id, provider=LLAMA.provider,
        created_at=at, updated_at=at,
    )  # fmt: skip


def chat_message(
    conversation_id: str, content: str, *, id: str | None = None, role: Speaker = Speaker.USER
) -> AiMessage:
    return AiMessage(
        id=id, conversation_id=conversation_id, user_id="u1", role=role, content=content,
        model=LLAMA.id, provider=LLAMA.provider, created_at=T0,
    )  # fmt: skip


@pytest.fixture
def conversations() -> BeanieAiConversationRepository:
    return BeanieAiConversationRepository()


@pytest.fixture
def messages() -> BeanieAiMessageRepository:
    return BeanieAiMessageRepository()


@pytest.fixture
def ledger() -> MongoUsageLedger:
    return MongoUsageLedger()


@pytest.fixture
def ai_settings() -> MongoAiSettingsRepository:
    return MongoAiSettingsRepository()


def ids(items: list[AiConversation] | list[AiMessage]) -> list[str | None]:
    return [item.id for item in items]


# -- conversations -------------------------------------------------------------------------


async def test_a_conversation_belongs_to_its_user(
    conversations: BeanieAiConversationRepository,
) -> None:
    with tenant_context(TENANT_A):
        created = await conversations.create(conversation("u1", "Hello"))
        assert created.id is not None and created.tenant_id == TENANT_A
        found = await conversations.get("u1", created.id)
        assert found is not None
        assert (found.title, found.model, found.provider) == ("Hello", LLAMA.id, Provider.OLLAMA)
        assert found.created_at.replace(tzinfo=UTC) == T0
        assert await conversations.get("u2", created.id) is None
        assert await conversations.get("u1", "not-an-id") is None
        assert await conversations.get("u1", str(ObjectId())) is None
        assert await conversations.delete("u2", created.id) is False
        assert await conversations.delete("u1", "zzz") is False
        assert await conversations.get("u1", created.id) is not None
        assert await conversations.delete("u1", created.id) is True
        assert await conversations.get("u1", created.id) is None
        assert await conversations.delete("u1", created.id) is False


async def test_create_keeps_a_preset_id(conversations: BeanieAiConversationRepository) -> None:
    preset = str(ObjectId())
    with tenant_context(TENANT_A):
        created = await conversations.create(
            conversation("u1", "t").model_copy(update={"id": preset})
        )
        assert created.id == preset
        assert await conversations.get("u1", preset) is not None


async def test_page_is_most_recent_first_with_the_total(
    conversations: BeanieAiConversationRepository,
) -> None:
    with tenant_context(TENANT_A):
        made = [
            await conversations.create(conversation("u1", f"c{i}", T0 + timedelta(minutes=i)))
            for i in range(5)
        ]
        await conversations.create(conversation("u2", "someone else's", T0 + timedelta(hours=1)))
        # Activity moves the oldest to the top.
        assert made[0].id is not None
        assert await conversations.touch(made[0].id, messages=1, at=T0 + timedelta(minutes=30))
        first, total = await conversations.page("u1", skip=0, limit=2)
        assert total == 5
        assert [c.title for c in first] == ["c0", "c4"]
        second, _ = await conversations.page("u1", skip=2, limit=2)
        assert [c.title for c in second] == ["c3", "c2"]
        last, total = await conversations.page("u1", skip=4, limit=2)
        assert [c.title for c in last] == ["c1"] and total == 5
        nobody, total = await conversations.page("u3", skip=0, limit=10)
        assert nobody == [] and total == 0


async def test_touch_counts_messages_and_sets_the_model(
    conversations: BeanieAiConversationRepository,
) -> None:
    with tenant_context(TENANT_A):
        created = await conversations.create(conversation("u1", "t"))
        assert created.id is not None and created.message_count == 0
        later = T0 + timedelta(minutes=5)
        assert await conversations.touch(created.id, messages=1, at=later) is True
        assert await conversations.touch(created.id, messages=2, at=later, model=GPT) is True
        found = await conversations.get("u1", created.id)
        assert found is not None
        assert found.message_count == 3
        assert (found.model, found.provider) == (GPT.id, Provider.OPENAI)
        assert found.updated_at.replace(tzinfo=UTC) == later
        assert await conversations.touch(created.id, messages=-1, at=later) is True
        again = await conversations.get("u1", created.id)
        assert again is not None and again.message_count == 2

        assert await conversations.delete("u1", created.id)
        assert await conversations.touch(created.id, messages=1, at=later) is False
        assert await conversations.touch("not-an-id", messages=1, at=later) is False
    assert await AiConversationDocument.find_all().count() == 0  # no upsert


async def test_delete_all_answers_the_ids_and_leaves_other_users(
    conversations: BeanieAiConversationRepository,
) -> None:
    with tenant_context(TENANT_A):
        mine = [await conversations.create(conversation("u1", f"m{i}")) for i in range(3)]
        theirs = await conversations.create(conversation("u2", "theirs"))
        deleted = await conversations.delete_all("u1")
        assert sorted(deleted) == sorted(str(c.id) for c in mine)
        assert await conversations.page("u1", skip=0, limit=10) == ([], 0)
        left, total = await conversations.page("u2", skip=0, limit=10)
        assert ids(left) == [theirs.id] and total == 1
        assert await conversations.delete_all("u1") == []


# -- messages ------------------------------------------------------------------------------


async def test_messages_keep_a_preset_id_and_their_fields(
    messages: BeanieAiMessageRepository,
) -> None:
    with tenant_context(TENANT_A):
        preset = messages.new_id()
        assert ObjectId.is_valid(preset) and preset != messages.new_id()
        reply = chat_message("c1", "Hello!", id=preset, role=Speaker.ASSISTANT).model_copy(
            update={
                "partial": True,
                "finish_reason": FinishReason.STOPPED,
                "usage": TokenUsage(input_tokens=3, output_tokens=4, estimated=True),
            }
        )
        stored = await messages.add(reply)
        assert stored.id == preset and stored.tenant_id == TENANT_A
        [found] = await messages.latest("c1", 10)
        assert found.id == preset and found.content == "Hello!" and found.role is Speaker.ASSISTANT
        assert found.partial is True and found.finish_reason is FinishReason.STOPPED
        assert found.usage == TokenUsage(input_tokens=3, output_tokens=4, estimated=True)
        generated = await messages.add(chat_message("c1", "no id given"))
        assert generated.id is not None and ObjectId.is_valid(generated.id)


async def add_many(messages: BeanieAiMessageRepository, conversation_id: str, n: int) -> list[str]:
    """`n` messages in order (ids drawn in order, so increasing)."""
    added = []
    for i in range(n):
        stored = await messages.add(
            chat_message(conversation_id, f"{conversation_id}-{i}", id=messages.new_id())
        )
        added.append(str(stored.id))
    return added


async def test_latest_answers_the_newest_oldest_first(messages: BeanieAiMessageRepository) -> None:
    with tenant_context(TENANT_A):
        added = await add_many(messages, "c1", 6)
        await add_many(messages, "c2", 2)
        assert ids(await messages.latest("c1", 3)) == added[3:]
        assert ids(await messages.latest("c1", 100)) == added
        assert await messages.latest("c3", 5) == []


async def test_pages_chain_back_through_the_cursor(messages: BeanieAiMessageRepository) -> None:
    with tenant_context(TENANT_A):
        added = await add_many(messages, "c1", 7)
        await add_many(messages, "c2", 3)
        first = await messages.page("c1", before=None, limit=3)
        assert ids(first.items) == added[4:]
        assert first.next_cursor == added[4]
        second = await messages.page("c1", before=first.next_cursor, limit=3)
        assert ids(second.items) == added[1:4]
        assert second.next_cursor == added[1]
        third = await messages.page("c1", before=second.next_cursor, limit=3)
        assert ids(third.items) == added[:1]
        assert third.next_cursor is None
        # Exactly a page left: no cursor to an empty page.
        exact = await messages.page("c1", before=added[3], limit=3)
        assert ids(exact.items) == added[:3] and exact.next_cursor is None
        empty = await messages.page("c9", before=None, limit=3)
        assert empty.items == [] and empty.next_cursor is None


async def test_a_malformed_cursor_is_an_empty_page(messages: BeanieAiMessageRepository) -> None:
    with tenant_context(TENANT_A):
        await add_many(messages, "c1", 2)
        page = await messages.page("c1", before="not-a-cursor", limit=10)
        assert page.items == [] and page.next_cursor is None


async def test_delete_and_delete_for(messages: BeanieAiMessageRepository) -> None:
    with tenant_context(TENANT_A):
        one = await add_many(messages, "c1", 3)
        await add_many(messages, "c2", 2)
        kept = await add_many(messages, "c3", 2)
        await messages.delete(one[0])
        await messages.delete("not-an-id")  # nothing happens
        assert ids(await messages.latest("c1", 10)) == one[1:]
        assert await messages.delete_for(["c1", "c2", "c-none"]) == 4
        assert await messages.delete_for([]) == 0
        assert await messages.latest("c1", 10) == [] and await messages.latest("c2", 10) == []
        assert ids(await messages.latest("c3", 10)) == kept


# -- usage ledger --------------------------------------------------------------------------


async def test_the_ledger_adds_per_day_user_and_model(ledger: MongoUsageLedger) -> None:
    with tenant_context(TENANT_A):
        usage = TokenUsage(input_tokens=10, output_tokens=5)
        await ledger.add(day="2024-05-01", user_id="u1", model=LLAMA, usage=usage)
        await ledger.add(day="2024-05-01", user_id="u1", model=LLAMA, usage=usage)
        await ledger.add(day="2024-05-01", user_id="u1", model=GPT, usage=usage)
        await ledger.add(day="2024-05-01", user_id="u2", model=LLAMA, usage=usage)
        await ledger.add(day="2024-05-02", user_id="u1", model=LLAMA, usage=usage)
        # The same name from another provider is another row.
        llama_openai = ModelInfo(id=LLAMA.id, provider=Provider.OPENAI)
        await ledger.add(day="2024-05-01", user_id="u1", model=llama_openai, usage=usage)
        rows = await ledger.rows(since="2024-01-01", until="2024-12-31", user_id=None)
    assert sorted(rows, key=lambda r: (r.day, r.user_id, r.model, r.provider)) == [
        UsageRow("2024-05-01", "u1", GPT.id, Provider.OPENAI, 10, 5, 1),
        UsageRow("2024-05-01", "u1", LLAMA.id, Provider.OLLAMA, 20, 10, 2),
        UsageRow("2024-05-01", "u1", LLAMA.id, Provider.OPENAI, 10, 5, 1),
        UsageRow("2024-05-01", "u2", LLAMA.id, Provider.OLLAMA, 10, 5, 1),
        UsageRow("2024-05-02", "u1", LLAMA.id, Provider.OLLAMA, 10, 5, 1),
    ]
    # Ordered by day, user, model.
    assert [(r.day, r.user_id, r.model) for r in rows] == sorted(
        (r.day, r.user_id, r.model) for r in rows
    )


async def test_concurrent_first_adds_count_exactly(ledger: MongoUsageLedger) -> None:
    usage = TokenUsage(input_tokens=1, output_tokens=2)
    with tenant_context(TENANT_A):
        await asyncio.gather(
            *(
                ledger.add(day="2024-05-01", user_id="u1", model=LLAMA, usage=usage)
                for _ in range(20)
            )
        )
        [row] = await ledger.rows(since="2024-05-01", until="2024-05-01", user_id="u1")
        assert (row.input_tokens, row.output_tokens, row.messages) == (20, 40, 20)
        assert await ledger.tenant_total("2024-05-01") == 60


async def test_tenant_total_sums_the_day_only(ledger: MongoUsageLedger) -> None:
    with tenant_context(TENANT_A):
        assert await ledger.tenant_total("2024-05-01") == 0
        await ledger.add(day="2024-05-01", user_id="u1", model=LLAMA,
                         usage=TokenUsage(input_tokens=100, output_tokens=23))  # fmt: skip
        await ledger.add(day="2024-05-01", user_id="u2", model=GPT,
                         usage=TokenUsage(input_tokens=7, output_tokens=0))  # fmt: skip
        await ledger.add(day="2024-04-30", user_id="u1", model=LLAMA,
                         usage=TokenUsage(input_tokens=1000, output_tokens=1000))  # fmt: skip
        assert await ledger.tenant_total("2024-05-01") == 130
        assert await ledger.tenant_total("2024-04-30") == 2000
        assert await ledger.tenant_total("2024-05-02") == 0


async def add_days(ledger: MongoUsageLedger) -> None:
    usage = TokenUsage(input_tokens=1, output_tokens=1)
    for day in ("2024-04-29", "2024-04-30", "2024-05-01", "2024-05-02"):
        for user_id in ("u1", "u2"):
            await ledger.add(day=day, user_id=user_id, model=LLAMA, usage=usage)


async def test_rows_filter_by_range(ledger: MongoUsageLedger) -> None:
    with tenant_context(TENANT_A):
        await add_days(ledger)
        rows = await ledger.rows(since="2024-04-30", until="2024-05-03", user_id=None)
        assert [(r.day, r.user_id) for r in rows] == [
            ("2024-04-30", "u1"), ("2024-04-30", "u2"), ("2024-05-01", "u1"), ("2024-05-01", "u2"),
            ("2024-05-02", "u1"), ("2024-05-02", "u2"),
        ]  # fmt: skip
        assert await ledger.rows(since="2024-05-03", until="2024-05-09", user_id=None) == []


async def test_rows_include_the_until_day(ledger: MongoUsageLedger) -> None:
    """`until` is inclusive (`GET /ai/usage?until=` defaults to today: today's tokens must
    be in the report)."""
    with tenant_context(TENANT_A):
        await add_days(ledger)
        rows = await ledger.rows(since="2024-04-30", until="2024-05-01", user_id=None)
        assert [(r.day, r.user_id) for r in rows] == [
            ("2024-04-30", "u1"), ("2024-04-30", "u2"), ("2024-05-01", "u1"), ("2024-05-01", "u2"),
        ]  # fmt: skip
        one_day = await ledger.rows(since="2024-05-01", until="2024-05-01", user_id=None)
        assert [(r.day, r.user_id) for r in one_day] == [("2024-05-01", "u1"), ("2024-05-01", "u2")]


async def test_rows_filter_by_user(ledger: MongoUsageLedger) -> None:
    with tenant_context(TENANT_A):
        await add_days(ledger)
        mine = await ledger.rows(since="2024-04-01", until="2024-05-31", user_id="u2")
        assert [r.day for r in mine] == ["2024-04-29", "2024-04-30", "2024-05-01", "2024-05-02"]
        assert {r.user_id for r in mine} == {"u2"}
        assert await ledger.rows(since="2024-04-01", until="2024-05-31", user_id="u9") == []


# -- settings ------------------------------------------------------------------------------


async def test_settings_default_then_round_trip(ai_settings: MongoAiSettingsRepository) -> None:
    at = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    with tenant_context(TENANT_A):
        assert await ai_settings.get() == AiTenantSettings()
        chosen = AiTenantSettings(
            allowed_models=(GPT.id, LLAMA.id), default_model=GPT.id,
            daily_token_quota=5000, updated_at=at,
        )  # fmt: skip
        assert await ai_settings.put(chosen) == chosen
        found = await ai_settings.get()
        assert found.allowed_models == (GPT.id, LLAMA.id)
        assert (found.default_model, found.daily_token_quota) == (GPT.id, 5000)
        assert found.updated_at is not None and found.updated_at.replace(tzinfo=UTC) == at
        # Replaced, not merged; an empty allow-list stays empty (not "all").
        await ai_settings.put(AiTenantSettings(allowed_models=()))
        again = await ai_settings.get()
        assert again.allowed_models == () and again.default_model is None
        assert again.daily_token_quota is None
        await ai_settings.put(AiTenantSettings())
        assert (await ai_settings.get()).allowed_models is None


# -- tenant isolation ----------------------------------------------------------------------


async def test_another_tenant_sees_nothing(
    conversations: BeanieAiConversationRepository,
    messages: BeanieAiMessageRepository,
    ledger: MongoUsageLedger,
    ai_settings: MongoAiSettingsRepository,
) -> None:
    usage = TokenUsage(input_tokens=5, output_tokens=5)
    with tenant_context(TENANT_A):
        mine = await conversations.create(conversation("u1", "secret"))
        cid = str(mine.id)
        added = await add_many(messages, cid, 3)
        await ledger.add(day="2024-05-01", user_id="u1", model=LLAMA, usage=usage)
        await ai_settings.put(AiTenantSettings(default_model=LLAMA.id, daily_token_quota=1))
    with tenant_context(TENANT_B):
        # The same user id in another tenant is another user.
        assert await conversations.get("u1", cid) is None
        assert await conversations.page("u1", skip=0, limit=10) == ([], 0)
        assert await conversations.touch(cid, messages=5, at=T0) is False
        assert await conversations.delete("u1", cid) is False
        assert await conversations.delete_all("u1") == []
        assert await messages.latest(cid, 10) == []
        assert (await messages.page(cid, before=None, limit=10)).items == []
        await messages.delete(added[0])
        assert await messages.delete_for([cid]) == 0
        assert await ledger.tenant_total("2024-05-01") == 0
        assert await ledger.rows(since="2024-01-01", until="2024-12-31", user_id=None) == []
        assert await ai_settings.get() == AiTenantSettings()
        # Their own writes stay theirs.
        await ledger.add(day="2024-05-01", user_id="u1", model=LLAMA, usage=usage)
        await ai_settings.put(AiTenantSettings(daily_token_quota=99))
    with tenant_context(TENANT_A):
        kept = await conversations.get("u1", cid)
        assert kept is not None and kept.message_count == 0
        assert ids(await messages.latest(cid, 10)) == added
        assert await ledger.tenant_total("2024-05-01") == 10
        [row] = await ledger.rows(since="2024-01-01", until="2024-12-31", user_id=None)
        assert row.messages == 1
        assert (await ai_settings.get()).daily_token_quota == 1
    assert await AiMessageDocument.find_all().count() == 3


async def test_every_call_without_a_tenant_raises(
    conversations: BeanieAiConversationRepository,
    messages: BeanieAiMessageRepository,
    ledger: MongoUsageLedger,
    ai_settings: MongoAiSettingsRepository,
) -> None:
    with tenant_context(TENANT_A):
        made = await conversations.create(conversation("u1", "t"))
        cid = str(made.id)
        [mid] = await add_many(messages, cid, 1)
    usage = TokenUsage(input_tokens=1, output_tokens=1)
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: conversations.create(conversation("u1", "x")),
        lambda: conversations.get("u1", cid),
        lambda: conversations.page("u1", skip=0, limit=10),
        lambda: conversations.touch(cid, messages=1, at=T0),
        lambda: conversations.delete("u1", cid),
        lambda: conversations.delete_all("u1"),
        lambda: messages.add(chat_message(cid, "x")),
        lambda: messages.latest(cid, 10),
        lambda: messages.page(cid, before=None, limit=10),
        lambda: messages.page(cid, before=mid, limit=10),
        lambda: messages.delete(mid),
        lambda: messages.delete_for([cid]),
        lambda: ledger.add(day="2024-05-01", user_id="u1", model=LLAMA, usage=usage),
        lambda: ledger.tenant_total("2024-05-01"),
        lambda: ledger.rows(since="2024-05-01", until="2024-05-01", user_id=None),
        lambda: ai_settings.get(),
        lambda: ai_settings.put(AiTenantSettings()),
    ]
    for call in calls:
        with pytest.raises(TenantRequired):
            await call()
    with tenant_context(TENANT_A):
        found = await conversations.get("u1", cid)
        assert found is not None and found.message_count == 0
        assert ids(await messages.latest(cid, 10)) == [mid]
        assert await ledger.tenant_total("2024-05-01") == 0
