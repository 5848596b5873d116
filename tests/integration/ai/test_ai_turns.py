"""A conversation turn's writes sent together (`MongoAiTurns` over `write_together`) on a
real Mongo-wire server: every step in the current tenant, each step's outcome its own,
the quota hold settled with the reply, many ends at once counted exactly."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.errors import InvalidOperation

from api.common.clock import utcnow
from api.domain.ai.entities import AiConversation, AiMessage
from api.domain.ai.values import (
    FinishReason,
    ModelInfo,
    QuotaSettlement,
    Speaker,
    TokenUsage,
)
from api.domain.errors import Conflict, TenantRequired
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.ai.conversations import (
    AiConversationDocument,
    BeanieAiConversationRepository,
)
from api.infrastructure.persistence.ai.messages import AiMessageDocument, BeanieAiMessageRepository
from api.infrastructure.persistence.ai.quota import MongoQuotaHolds, QuotaDayDocument
from api.infrastructure.persistence.ai.turns import MongoAiTurns
from api.infrastructure.persistence.ai.usage import MongoUsageLedger
from api.infrastructure.persistence.base.together import write_together
from tests.integration.ai.test_ai_repositories import GPT, LLAMA, T0, TENANT_A, TENANT_B

DAY = "2024-05-01"
USAGE = TokenUsage(input_tokens=7, output_tokens=5)


def new_conversation() -> AiConversation:
    return AiConversation(
        id=str(ObjectId()), user_id="u1", title="Hello", model=LLAMA.id,
        provider=LLAMA.provider, message_count=1, created_at=T0, updated_at=T0,
    )  # fmt: skip


def message(conversation_id: str, role: Speaker = Speaker.USER, **fields: object) -> AiMessage:
    return AiMessage(
        id=str(ObjectId()), conversation_id=conversation_id, user_id="u1", role=role,
        content="Hello there", model=fields.pop("model", LLAMA.id),
        provider=fields.pop("provider", LLAMA.provider), created_at=T0, **fields,
    )  # fmt: skip


def reply(conversation_id: str, model: ModelInfo = GPT) -> AiMessage:
    at = T0 + timedelta(minutes=1)
    return message(
        conversation_id, Speaker.ASSISTANT, model=model.id, provider=model.provider,
        usage=USAGE, finish_reason=FinishReason.STOP,
    ).model_copy(update={"created_at": at})  # fmt: skip


@pytest.fixture
def turns() -> MongoAiTurns:
    return MongoAiTurns()


async def started(turns: MongoAiTurns) -> str:
    """A new conversation of tenant A with its first question; its id."""
    conversation = new_conversation()
    with tenant_context(TENANT_A):
        await turns.begin(message(conversation.id or ""), new=conversation)
    return conversation.id or ""


async def stored_conversation(conversation_id: str) -> dict[str, object] | None:
    collection = AiConversationDocument.get_pymongo_collection()
    return await collection.find_one({"_id": ObjectId(conversation_id)})


async def quota_day(tenant: TenantId = TENANT_A) -> dict[str, object] | None:
    collection = QuotaDayDocument.get_pymongo_collection()
    return await collection.find_one({"tenant_id": tenant, "day": DAY})


async def test_begin_creates_the_conversation_with_its_question_in_the_tenant(
    turns: MongoAiTurns,
) -> None:
    conversation = new_conversation()
    question = message(conversation.id or "")
    with tenant_context(TENANT_A):
        assert await turns.begin(question, new=conversation)
        found = await BeanieAiConversationRepository().get("u1", conversation.id or "")
        assert found is not None
        assert found.tenant_id == TENANT_A
        assert [m.id for m in await BeanieAiMessageRepository().latest(found.id or "", 5)] == [
            question.id
        ]
    with tenant_context(TENANT_B):  # never another tenant's
        assert await BeanieAiConversationRepository().get("u1", conversation.id or "") is None
        assert await BeanieAiMessageRepository().latest(conversation.id or "", 5) == []


async def test_begin_in_an_existing_conversation_counts_it_or_answers_gone(
    turns: MongoAiTurns,
) -> None:
    conversation_id = await started(turns)
    with tenant_context(TENANT_A):
        later = message(conversation_id).model_copy(update={"created_at": T0 + timedelta(1)})
        assert await turns.begin(later, new=None)
    stored = await stored_conversation(conversation_id)
    assert stored is not None
    assert stored["message_count"] == 2
    assert stored["updated_at"] == T0 + timedelta(1)
    with tenant_context(TENANT_B):  # another tenant's conversation is not touched
        assert not await turns.begin(message(conversation_id), new=None)
    stored = await stored_conversation(conversation_id)
    assert stored is not None
    assert stored["message_count"] == 2


async def test_end_saves_the_reply_counts_it_and_its_usage_and_settles_the_hold(
    turns: MongoAiTurns,
) -> None:
    conversation_id = await started(turns)
    holds = MongoQuotaHolds()
    with tenant_context(TENANT_A):
        held = await holds.hold(
            day=DAY, hold_id="h1", want=100, least=1, quota=1000,
            until=utcnow() + timedelta(hours=1),
        )  # fmt: skip
        assert held == 100
        answer = reply(conversation_id)
        settle = QuotaSettlement(DAY, "h1", 100, USAGE.total)
        assert await turns.end(answer, day=DAY, settle=settle)
        [row] = await MongoUsageLedger().rows(since=DAY, until=DAY, user_id="u1")
        assert (row.model, row.provider, row.input_tokens, row.output_tokens, row.messages) == (
            GPT.id, GPT.provider, 7, 5, 1,
        )  # fmt: skip
        saved = await BeanieAiMessageRepository().latest(conversation_id, 5)
        assert saved[-1].id == answer.id
        assert saved[-1].tenant_id == TENANT_A
        assert saved[-1].usage == USAGE
    stored = await stored_conversation(conversation_id)
    assert stored is not None
    assert (stored["message_count"], stored["model"], stored["provider"]) == (2, GPT.id, "openai")
    day = await quota_day()
    assert day is not None
    assert (day["committed"], day["spent"], day["holds"]) == (12, 12, {})


async def test_end_without_a_hold_counts_the_use_on_the_days_document_if_any(
    turns: MongoAiTurns,
) -> None:
    conversation_id = await started(turns)
    with tenant_context(TENANT_A):
        # No quota: no day document, nothing else to write.
        assert await turns.end(
            reply(conversation_id), day=DAY, settle=QuotaSettlement(DAY, "h1", 0, 12)
        )
        assert await quota_day() is None
        # A quota earlier that day made the document: it keeps counting.
        await MongoQuotaHolds().hold(
            day=DAY, hold_id="h2", want=10, least=1, quota=1000,
            until=utcnow() + timedelta(hours=1),
        )  # fmt: skip
        await MongoQuotaHolds().settle(day=DAY, hold_id="h2", held=10, used=0)
        assert await turns.end(
            reply(conversation_id), day=DAY, settle=QuotaSettlement(DAY, "h3", 0, 12)
        )
    day = await quota_day()
    assert day is not None
    assert (day["committed"], day["spent"]) == (24, 24)  # the ledger's 12, then 12 more


async def test_a_reclaimed_hold_still_counts_what_was_used(turns: MongoAiTurns) -> None:
    conversation_id = await started(turns)
    holds = MongoQuotaHolds()
    with tenant_context(TENANT_A):
        await holds.hold(
            day=DAY, hold_id="h1", want=100, least=1, quota=1000,
            until=utcnow() - timedelta(seconds=1),
        )  # fmt: skip
        # Another call, finding no room, reclaims the lapsed hold.
        assert await holds.hold(
            day=DAY, hold_id="h2", want=950, least=950, quota=1000,
            until=utcnow() + timedelta(hours=1),
        ) == 950  # fmt: skip
        await turns.end(reply(conversation_id), day=DAY, settle=QuotaSettlement(DAY, "h1", 100, 12))
    day = await quota_day()
    assert day is not None
    assert (day["committed"], day["spent"]) == (962, 12)


async def test_end_in_a_deleted_conversation_answers_gone(turns: MongoAiTurns) -> None:
    conversation_id = await started(turns)
    with tenant_context(TENANT_A):
        await BeanieAiConversationRepository().delete("u1", conversation_id)
        assert not await turns.end(reply(conversation_id), day=DAY, settle=None)
        # The usage is counted all the same (the call did use the model).
        assert await MongoUsageLedger().tenant_total(DAY) == 12


async def test_many_ends_at_once_count_exactly(turns: MongoAiTurns) -> None:
    conversation_id = await started(turns)
    with tenant_context(TENANT_A):
        await asyncio.gather(
            *(turns.end(reply(conversation_id), day=DAY, settle=None) for _ in range(12))
        )
        [row] = await MongoUsageLedger().rows(since=DAY, until=DAY, user_id="u1")
        assert (row.input_tokens, row.output_tokens, row.messages) == (84, 60, 12)
    stored = await stored_conversation(conversation_id)
    assert stored is not None
    assert stored["message_count"] == 13


async def test_without_a_tenant_nothing_is_written(turns: MongoAiTurns) -> None:
    conversation = new_conversation()
    with pytest.raises(TenantRequired):
        await turns.begin(message(conversation.id or ""), new=conversation)
    assert await AiMessageDocument.get_pymongo_collection().count_documents({}) == 0
    assert await stored_conversation(conversation.id or "") is None


async def test_a_refused_step_is_its_own_the_others_are_written() -> None:
    conversation = new_conversation()
    question = message(conversation.id or "")
    conversations, messages = BeanieAiConversationRepository(), BeanieAiMessageRepository()
    with tenant_context(TENANT_A):
        await conversations.create(conversation)
        done = await write_together(
            [conversations.create_step(conversation), messages.add_step(question)]
        )
    assert isinstance(done[0].error, Conflict)  # the same _id again
    assert not done[0].matched
    assert done[1].matched
    assert done[1].error is None
    assert await AiMessageDocument.get_pymongo_collection().count_documents({}) == 1


async def test_a_server_before_8_0_gets_one_command_per_step(
    turns: MongoAiTurns, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused(*_: object, **__: object) -> None:
        # What pymongo raises, before sending anything, to a server without `bulkWrite`.
        raise InvalidOperation("MongoClient.bulk_write requires MongoDB server version 8.0+.")

    monkeypatch.setattr(AsyncMongoClient, "bulk_write", refused)
    conversation_id = await started(turns)
    with tenant_context(TENANT_A):
        assert await turns.end(
            reply(conversation_id), day=DAY, settle=QuotaSettlement(DAY, "h1", 0, 12)
        )
        await BeanieAiConversationRepository().delete("u1", conversation_id)
        assert not await turns.end(reply(conversation_id), day=DAY, settle=None)
        [row] = await MongoUsageLedger().rows(since=DAY, until=DAY, user_id="u1")
        assert row.messages == 2
        assert len(await BeanieAiMessageRepository().latest(conversation_id, 5)) == 3
