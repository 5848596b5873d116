"""The assistants' run ledger and follow-up alarms on a real Mongo-wire server: one claim
per key (concurrent claims: one wins), a lapsed claim taken over, released claims free,
counts and stats from finished records; alarms moved, taken once, due across tenants."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from api.domain.ai.assistant_runs import (
    FollowUpStage,
    HandoffReason,
    Outcome,
    RunRecord,
)
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.ai.assistant_runs import MongoFollowUpAlarms, MongoReplyLedger

TENANT_A = TenantId("a" * 24)
TENANT_B = TenantId("b" * 24)
T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def record(key: str, outcome: Outcome, **changes: object) -> RunRecord:
    fields: dict[str, object] = {
        "key": key, "assistant_id": "a1", "conversation_id": "c1", "outcome": outcome,
        "finished_at": T0, **changes,
    }  # fmt: skip
    return RunRecord.model_validate(fields)


async def test_a_key_is_claimed_once() -> None:
    ledger = MongoReplyLedger()
    with tenant_context(TENANT_A):
        claims = await asyncio.gather(
            *(ledger.claim("reply:m1", now=T0, until=T0 + timedelta(minutes=5)) for _ in range(8))
        )
        assert sum(claims) == 1
        # still held: no
        assert not await ledger.claim("reply:m1", now=T0 + timedelta(minutes=1), until=T0)
        # lapsed (the holder crashed): taken over
        later = T0 + timedelta(minutes=6)
        assert await ledger.claim("reply:m1", now=later, until=later + timedelta(minutes=5))
        await ledger.release("reply:m1")
        assert await ledger.claim("reply:m1", now=later, until=later + timedelta(minutes=5))
        await ledger.finish(record("reply:m1", Outcome.REPLIED, latency_ms=100))
        far = T0 + timedelta(days=1)
        assert not await ledger.claim("reply:m1", now=far, until=far)  # done for good
    with tenant_context(TENANT_B):  # keys are per tenant
        assert await ledger.claim("reply:m1", now=T0, until=T0 + timedelta(minutes=5))


async def test_counts_and_stats_come_from_finished_records() -> None:
    ledger = MongoReplyLedger()
    with tenant_context(TENANT_A):
        runs: list[tuple[str, Outcome, dict[str, object]]] = [
            ("reply:1", Outcome.REPLIED, {"latency_ms": 100, "input_tokens": 10,
                                          "output_tokens": 5}),
            ("reply:2", Outcome.REPLIED, {"latency_ms": 300, "output_tokens": 7}),
            ("reply:3", Outcome.HANDED_OFF, {"reason": HandoffReason.KEYWORD,
                                             "conversation_id": "c2"}),
            ("reply:4", Outcome.HANDED_OFF, {"reason": HandoffReason.BUDGET,
                                             "conversation_id": "c3"}),
            ("resolve:c1", Outcome.RESOLVED, {}),
            ("reply:5", Outcome.REPLIED, {"assistant_id": "other", "conversation_id": "c9"}),
        ]  # fmt: skip
        for key, outcome, extra in runs:
            await ledger.claim(key, now=T0, until=T0)
            await ledger.finish(record(key, outcome, **dict(extra)))
        assert await ledger.replies_in("c1") == 2
        assert await ledger.tokens_since("a1", T0) == 22
        assert await ledger.tokens_since("a1", T0 + timedelta(seconds=1)) == 0
        stats = await ledger.stats("a1")
    assert stats.model_dump() == {
        "conversations": 3, "resolved_without_handoff": 1, "handed_off": 2,
        "handoff_reasons": {"keyword": 1, "budget": 1}, "replies": 2,
        "input_tokens": 10, "output_tokens": 12, "latency_p50_ms": 100, "latency_p90_ms": 300,
    }  # fmt: skip
    with tenant_context(TENANT_B):
        assert (await ledger.stats("a1")).replies == 0


async def test_follow_up_alarms() -> None:
    alarms = MongoFollowUpAlarms()
    with tenant_context(TENANT_A):
        await alarms.schedule("c1", "a1", FollowUpStage.FOLLOW_UP, T0)
        await alarms.schedule("c1", "a1", FollowUpStage.FOLLOW_UP, T0 + timedelta(hours=1))
        await alarms.schedule("c2", "a1", FollowUpStage.RESOLVE, T0 + timedelta(minutes=5))
        await alarms.schedule("c3", "a1", FollowUpStage.FOLLOW_UP, T0)
        await alarms.cancel("c3")
    with tenant_context(TENANT_B):
        await alarms.schedule("c1", "b1", FollowUpStage.FOLLOW_UP, T0 + timedelta(minutes=1))
    due = await alarms.due(T0 + timedelta(minutes=10), 10)
    assert [(d.tenant_id, d.conversation_id, d.stage) for d in due] == [
        (TENANT_B, "c1", FollowUpStage.FOLLOW_UP), (TENANT_A, "c2", FollowUpStage.RESOLVE),
    ]  # fmt: skip
    with tenant_context(TENANT_A):
        taken = await asyncio.gather(*(alarms.take(due[1]) for _ in range(5)))
        assert sum(taken) == 1
        assert not await alarms.take(due[0])  # another tenant's alarm: not from here
    assert len(await alarms.due(T0 + timedelta(hours=2), 10)) == 2
