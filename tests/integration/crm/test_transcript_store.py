"""Transcripts' records and the conversation history they read, against the real
Mongo-wire server: the history comes oldest first, each entry once, however many share a
time and whatever the batch size, within one tenant and conversation; one active
transcript per conversation (a second is `Conflict`), a claim taken once and a dead run's
lease taken over; the sweep's cross-tenant read of due files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from api.domain.audit import AuditEntry
from api.domain.crm.transcripts import Transcript, TranscriptFormat, TranscriptStatus
from api.domain.errors import Conflict, TenantRequired
from api.domain.messaging.messages import (
    Direction,
    Message,
    MessageSender,
    MessageStatus,
    SenderType,
)
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.cache.send_claims import RedisSendClaims
from api.infrastructure.persistence.audit.entries import MongoAuditLog
from api.infrastructure.persistence.crm.conversation_history import ConversationHistory
from api.infrastructure.persistence.crm.transcripts import (
    BeanieTranscriptRepository,
    PlatformExpiredTranscripts,
)
from api.infrastructure.persistence.messaging.messages import BeanieMessageRepository

TENANT_A = TenantId("a" * 24)
TENANT_B = TenantId("b" * 24)
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def _message(conversation_id: str, at: datetime, text: str) -> Message:
    return Message(
        conversation_id=conversation_id, channel_id="c" * 24, direction=Direction.INBOUND,
        type="text", text=text, sender=MessageSender(type=SenderType.CONTACT),
        status=MessageStatus.RECEIVED, created_at=at,
    )  # fmt: skip


async def test_the_history_comes_oldest_first_once_whatever_the_batch(redis_client: Redis) -> None:
    messages = BeanieMessageRepository(RedisSendClaims(redis_client))
    expected: list[str] = []
    with tenant_context(TENANT_A):
        # Written out of order; 7 share one time (the batches must not lose or repeat them).
        for n in (3, 1, 2):
            await messages.add_once(_message("conv", T0 + timedelta(minutes=n), f"m{n}"))
        for n in range(7):
            await messages.add_once(_message("conv", T0 + timedelta(minutes=2), f"tie{n}"))
        await messages.add_once(_message("other", T0, "another conversation"))
    with tenant_context(TENANT_B):
        await messages.add_once(_message("conv", T0, "another tenant"))
    expected = ["m1", "m2", *(f"tie{n}" for n in range(7)), "m3"]
    history = ConversationHistory()
    for size in (1, 2, 3, 7, 8, 50):
        with tenant_context(TENANT_A):
            batches = [batch async for batch in history.messages("conv", size)]
        assert all(len(batch) <= size for batch in batches)
        assert [m.text for batch in batches for m in batch] == expected, size
    with pytest.raises(TenantRequired):
        history.messages("conv", 10)


async def test_the_status_changes_are_the_conversations_audited_state_changes() -> None:
    log = MongoAuditLog(retention_days=30)
    with tenant_context(TENANT_A):
        for minutes, action, resource in (
            (2, "conversation.resolved", "conv"), (1, "conversation.assigned", "conv"),
            (3, "conversation.read", "conv"), (4, "conversation.resolved", "other"),
            (5, "conversation.reopened", "conv"),
        ):  # fmt: skip
            await log.record(AuditEntry(
                tenant_id=TENANT_A, actor_id=None, action=action, resource_type="conversation",
                resource_id=resource, created_at=T0 + timedelta(minutes=minutes),
            ))  # fmt: skip
    with tenant_context(TENANT_B):
        await log.record(AuditEntry(
            tenant_id=TENANT_B, actor_id=None, action="conversation.resolved",
            resource_type="conversation", resource_id="conv", created_at=T0,
        ))  # fmt: skip
    with tenant_context(TENANT_A):
        found = [e async for batch in ConversationHistory().status_changes("conv", 2)
                 for e in batch]  # fmt: skip
    assert [e.action for e in found] == [
        "conversation.assigned", "conversation.resolved", "conversation.reopened"
    ]  # fmt: skip


async def test_one_active_transcript_per_conversation_and_claims() -> None:
    repository = BeanieTranscriptRepository()
    with tenant_context(TENANT_A):
        first = await repository.add(
            Transcript(conversation_id="conv", format=TranscriptFormat.CSV, created_at=T0)
        )
        assert first.id is not None
        with pytest.raises(Conflict):
            await repository.add(
                Transcript(conversation_id="conv", format=TranscriptFormat.PDF, created_at=T0)
            )
        assert (await repository.active("conv")) == first
        other = await repository.add(
            Transcript(conversation_id="other", format=TranscriptFormat.PDF, created_at=T0)
        )
        assert other.id is not None
    with tenant_context(TENANT_B):  # another tenant's conversation of the same id
        await repository.add(
            Transcript(conversation_id="conv", format=TranscriptFormat.PDF, created_at=T0)
        )
        assert await repository.get(first.id) is None
    with tenant_context(TENANT_A):
        lease = T0 + timedelta(minutes=5)
        assert await repository.claim(first.id, at=T0, lease_until=lease)
        assert not await repository.claim(first.id, at=T0 + timedelta(minutes=1),
                                          lease_until=lease)  # fmt: skip
        later = T0 + timedelta(minutes=6)  # the run died: its lease ran out
        assert await repository.claim(first.id, at=later, lease_until=later + timedelta(1))
        expires = T0 + timedelta(hours=1)
        assert await repository.finish(first.id, file_id="f1", entries=3, truncated=False,
                                       at=later, expires_at=expires)  # fmt: skip
        done = await repository.get(first.id)
        assert done is not None and done.status is TranscriptStatus.READY
        assert done.entries == 3 and done.lease_until is None and done.purge_at == expires
        assert await repository.active("conv") is None
        assert not await repository.fail(first.id, error="late", at=later)  # ready stays
        again = await repository.add(  # the conversation is free again
            Transcript(conversation_id="conv", format=TranscriptFormat.PDF, created_at=later)
        )
        assert again.id != first.id
    due = await PlatformExpiredTranscripts().due(expires, 10)
    assert [(d.tenant_id, d.transcript_id) for d in due] == [(TENANT_A, first.id)]
    assert await PlatformExpiredTranscripts().due(expires - timedelta(seconds=1), 10) == []
    with tenant_context(TENANT_A):
        assert await repository.purged(first.id, "f1")
        purged = await repository.get(first.id)
        assert purged is not None and purged.file_id is None and purged.purge_at is None
    assert await PlatformExpiredTranscripts().due(expires, 10) == []
