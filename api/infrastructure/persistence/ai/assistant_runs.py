"""Assistants' work in MongoDB: the run ledger (`assistant_runs`, unique per tenant and
key: a claim is an insert, a lapsed claim is taken over by a conditional update) and the
idle conversations' follow-up alarms (`assistant_follow_ups`, one per conversation; the
periodic job's cross-tenant read goes through the `due_at` index)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pymongo import ASCENDING, IndexModel

from api.domain.ai.assistant_runs import (
    AssistantStats,
    DueFollowUp,
    FollowUpStage,
    HandoffReason,
    Outcome,
    RunRecord,
)
from api.domain.errors import Conflict
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    tenant_first,
)

CLAIMED = "claimed"
DONE = "done"
LATENCY_SAMPLE = 10_000  # the latest replies the percentiles are computed over


class AssistantRunDocument(TenantOwnedDocument):
    key: str
    state: str = CLAIMED
    until: datetime | None = None
    assistant_id: str | None = None
    conversation_id: str | None = None
    outcome: Outcome | None = None
    reason: HandoffReason | None = None
    reply_message_id: str | None = None
    language: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: int | None = None
    finished_at: datetime | None = None

    class Settings:
        name = "assistant_runs"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1), ("key", 1)], unique=True, name="run_key_unique"),
            IndexModel([(TENANT_FIELD, 1), ("conversation_id", 1)], name="run_conversation"),
            IndexModel(
                [(TENANT_FIELD, 1), ("assistant_id", 1), ("finished_at", 1)],
                name="run_assistant_time",
            ),
        ]


class MongoReplyLedger:
    """`ReplyLedger` adapter (fail closed)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(AssistantRunDocument)

    async def claim(self, key: str, *, now: datetime, until: datetime) -> bool:
        try:
            await self._scoped.insert(AssistantRunDocument(key=key, until=until))
            return True
        except Conflict:
            return await self._scoped.apply_where(
                tenant_first(key=key, state=CLAIMED, until={"$lt": now}),
                {"$set": {"until": until}},
            )

    async def release(self, key: str) -> None:
        await self._scoped.delete_many(tenant_first(key=key, state=CLAIMED))

    async def finish(self, record: RunRecord) -> None:
        fields = record.model_dump(mode="python", exclude={"key"})
        await self._scoped.upsert(
            tenant_first(key=record.key), {"$set": {**fields, "state": DONE, "until": None}}
        )

    async def replies_in(self, conversation_id: str) -> int:
        return await self._scoped.count(
            tenant_first(conversation_id=conversation_id, outcome=Outcome.REPLIED.value)
        )

    async def tokens_since(self, assistant_id: str, since: datetime) -> int:
        rows = await self._scoped.aggregate(
            [
                {"$match": {"assistant_id": assistant_id, "finished_at": {"$gte": since}}},
                {"$group": {"_id": None, "n": {"$sum": {"$add": ["$input_tokens",
                                                                  "$output_tokens"]}}}},
            ]
        )  # fmt: skip
        return int(rows[0]["n"]) if rows else 0

    async def stats(self, assistant_id: str) -> AssistantStats:
        rows = await self._scoped.aggregate(
            [
                {"$match": {"assistant_id": assistant_id, "state": DONE}},
                {"$group": {
                    "_id": {"outcome": "$outcome", "reason": "$reason"},
                    "n": {"$sum": 1},
                    "input": {"$sum": "$input_tokens"},
                    "output": {"$sum": "$output_tokens"},
                }},
            ]
        )  # fmt: skip
        by_conversation = await self._scoped.aggregate(
            [
                {"$match": {"assistant_id": assistant_id, "state": DONE}},
                {"$group": {"_id": "$conversation_id", "outcomes": {"$addToSet": "$outcome"}}},
            ]
        )
        counts: dict[str, int] = {}
        reasons: dict[str, int] = {}
        input_tokens = output_tokens = 0
        for row in rows:
            outcome = row["_id"].get("outcome")
            counts[outcome] = counts.get(outcome, 0) + int(row["n"])
            input_tokens += int(row["input"])
            output_tokens += int(row["output"])
            if outcome == Outcome.HANDED_OFF.value:
                reason = row["_id"].get("reason") or "unknown"
                reasons[reason] = reasons.get(reason, 0) + int(row["n"])
        resolved = sum(
            1
            for row in by_conversation
            if Outcome.RESOLVED.value in row["outcomes"]
            and Outcome.HANDED_OFF.value not in row["outcomes"]
        )
        latencies = sorted(
            d.latency_ms
            for d in await self._scoped.find(
                tenant_first(assistant_id=assistant_id, outcome=Outcome.REPLIED.value),
                limit=LATENCY_SAMPLE,
            )
            if d.latency_ms is not None
        )
        return AssistantStats(
            conversations=len(by_conversation),
            resolved_without_handoff=resolved,
            handed_off=counts.get(Outcome.HANDED_OFF.value, 0),
            handoff_reasons=reasons,
            replies=counts.get(Outcome.REPLIED.value, 0),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_p50_ms=_percentile(latencies, 50),
            latency_p90_ms=_percentile(latencies, 90),
        )


def _percentile(ordered: list[int], percent: int) -> int | None:
    """The nearest-rank percentile of sorted values; None without any."""
    if not ordered:
        return None
    rank = max(1, -(-percent * len(ordered) // 100))
    return ordered[rank - 1]


class FollowUpAlarmDocument(TenantOwnedDocument):
    conversation_id: str
    assistant_id: str
    stage: FollowUpStage
    due_at: datetime

    class Settings:
        name = "assistant_follow_ups"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("conversation_id", 1)], unique=True, name="follow_up_unique"
            ),
            # Cross-tenant on purpose: the periodic job's one read.
            IndexModel([("due_at", ASCENDING)], name="follow_up_due"),
        ]


class MongoFollowUpAlarms:
    """`FollowUpAlarms` adapter: tenant-scoped writes; `due` is platform-level by design
    (read-only, ids only)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(FollowUpAlarmDocument)

    async def schedule(
        self, conversation_id: str, assistant_id: str, stage: FollowUpStage, due_at: datetime
    ) -> None:
        await self._scoped.upsert(
            tenant_first(conversation_id=conversation_id),
            {"$set": {"assistant_id": assistant_id, "stage": stage.value, "due_at": due_at}},
        )

    async def cancel(self, conversation_id: str) -> None:
        await self._scoped.delete_many(tenant_first(conversation_id=conversation_id))

    async def take(self, alarm: DueFollowUp) -> bool:
        removed = await self._scoped.delete_many(
            tenant_first(
                conversation_id=alarm.conversation_id, stage=alarm.stage.value,
                due_at=alarm.due_at,
            )
        )  # fmt: skip
        return removed == 1

    async def due(self, at: datetime, limit: int) -> list[DueFollowUp]:
        collection = FollowUpAlarmDocument.get_pymongo_collection()
        projection: dict[str, Any] = {TENANT_FIELD: 1, "conversation_id": 1,
                                      "assistant_id": 1, "stage": 1, "due_at": 1}  # fmt: skip
        with database_errors():
            cursor = (
                collection.find({"due_at": {"$lte": at}}, projection)
                .sort("due_at", ASCENDING)
                .limit(limit)
            )
            return [
                DueFollowUp(
                    tenant_id=row[TENANT_FIELD], conversation_id=row["conversation_id"],
                    assistant_id=row["assistant_id"], stage=FollowUpStage(row["stage"]),
                    due_at=row["due_at"],
                )
                async for row in cursor
            ]  # fmt: skip
