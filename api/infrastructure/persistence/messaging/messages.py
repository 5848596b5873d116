"""Inbox messages in MongoDB, within the current tenant.

`(tenant, channel, external_id)` is unique (partial: outbound messages not sent yet have
no external id), so a redelivered inbound message is stored once. Statuses move by a
conditional update on `status_rank` (see `api.domain.messaging.messages`), so statuses
arriving late, twice or concurrently never move a message backwards.

A send run's claim on a message lives in Redis (`SendClaims`,
`api.infrastructure.cache.send_claims`; key: the message's id), not in the database: the
embedded server (SecantusDB) serves its commands one after another and rewrites every
index entry of a document on any update, so a claim written on the message cost 3.5 ms of
its CPU, and even as a document of its own (`send_claims`, until bench/README.md's
"Sends, seventh pass") its insert and its delayed delete were two of a send's five
database commands, which the claim's read queued behind. Redis already holds the
channel's slots (the same holder: the message id), the rate buckets and the job queue.

A claim is taken and the message read at the same time (one round trip's wait, not two).
That read is only trusted when no outcome can have been stored between it and the claim:
a claim whose message is settled (sent or failed) ends `CLAIM_END_DELAY_SECONDS` after
the outcome was stored (Redis' expiry, set once the outcome is stored), never sooner, so
for that long after any outcome a new claim on the message is refused. A new claim taken
in less time than that since both were asked for was therefore refused had an outcome
been stored after the read: the read stands. Otherwise (a claim taken over from a run out
of time, or a slow answer) the message is read again after the claim. A claim given back
(`release_send`: no outcome, the message still to send) ends at once.

Durability: the claims are as durable as Redis. A Redis restarted empty (without its
append-only file, which production keeps: docker-compose runs it with `--appendonly
yes`; with it, at most the last second's writes) forgets the claims in flight; a second
run of the same message could then claim it while the first is still at the provider,
and send it again. That needs a second run of the same job at that moment: Redis is also
the job queue (the broker), so the jobs queued and unacknowledged are lost or kept with
the claims, and a job comes back only after the broker's visibility timeout (1 h) or
from the sweep (`SEND_SWEEP_AFTER_SECONDS`, 15 min), long after a run in flight has ended
(a run lasts at most its lease: the rate's wait, the provider's timeout and a minute,
150 s with the defaults). A rolling deploy from the database's claims: an old worker
claims in `send_claims`, a new one in Redis, so the two do not see each other's claims;
the same message is run by both only through those same two paths (a duplicate only if
one of them fires during the deploy while a run of that message is at the provider).
Claims left in `send_claims` hold nothing; the collection can be dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime
from typing import Any, ClassVar

from beanie import PydanticObjectId, SortDirection
from bson import ObjectId
from pymongo import DESCENDING, IndexModel

from api.common.background import in_background
from api.domain.errors import ServiceUnavailable
from api.domain.messaging.content import Recipient
from api.domain.messaging.messages import (
    STATUS_RANK,
    ClaimOutcome,
    ClaimTake,
    Direction,
    MediaLink,
    Message,
    MessageError,
    MessagePage,
    MessageSender,
    MessageStatus,
    SendClaim,
    SendClaims,
    StatusChange,
)
from api.domain.tenancy import current_tenant
from api.infrastructure.persistence.base.mongo import database_errors, lookup_index
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    tenant_first,
    to_object_id,
)
from api.infrastructure.persistence.messaging.cursors import after_cursor, encode_cursor

_FINAL = STATUS_RANK[MessageStatus.FAILED]
_REQUEUES = "requeues"  # how many times the sweeper queued its send job again
# How long after a settled message's outcome its claim is deleted; a claim and a read
# asked for together are trusted when both answered within it (see the module's doc).
# The same in every process: a constant, not a setting.
CLAIM_END_DELAY_SECONDS = 2.0
_HOLDS = (ClaimOutcome.NEW, ClaimOutcome.TAKEN_OVER)  # this run holds the message
log = logging.getLogger(__name__)


class MessageDocument(TenantOwnedDocument):
    conversation_id: str
    channel_id: str
    contact_id: str | None = None
    direction: Direction
    type: str
    text: str | None = None
    content: dict[str, Any] = {}
    media: MediaLink | None = None
    reply_to_id: str | None = None
    reply_to_external_id: str | None = None
    private: bool = False
    sender: MessageSender
    status: MessageStatus
    status_rank: int = 0
    status_timestamps: dict[str, datetime] = {}
    error: MessageError | None = None
    external_id: str | None = None
    pricing: dict[str, Any] | None = None
    created_at: datetime
    recipient: Recipient | None = None

    class Settings:
        name = "inbox_messages"
        keep_nulls = False
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("channel_id", 1), ("external_id", 1)],
                unique=True,
                partialFilterExpression={"external_id": {"$type": "string"}},
                name="channel_external_id_unique",
            ),
            lookup_index(
                [(TENANT_FIELD, 1), ("channel_id", 1), ("external_id", 1)],
                name="channel_external_id",
            ),
            IndexModel(
                [
                    (TENANT_FIELD, 1),
                    ("conversation_id", 1),
                    ("created_at", DESCENDING),
                    ("_id", DESCENDING),
                ],
                name="conversation_history",
            ),
            # The dashboard's windows (api/infrastructure/persistence/analytics).
            IndexModel([(TENANT_FIELD, 1), ("created_at", 1)], name="tenant_created"),
            # The sweep of messages whose send job was lost (across tenants).
            IndexModel([("status", 1), ("created_at", 1)], name="status_created"),
        ]

    def to_entity(self) -> Message:
        return Message(
            id=str(self.id),
            **self.model_dump(exclude={"id", "revision_id", "status_rank"}),
        )


def _sendable(document: MessageDocument | None) -> bool:
    """Still to send: outbound, queued and without a provider id."""
    return (
        document is not None
        and document.direction is Direction.OUTBOUND
        and document.status is MessageStatus.QUEUED
        and document.external_id is None
    )


class BeanieMessageRepository:
    """`MessageRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self, claims: SendClaims) -> None:
        self._scoped = TenantScopedRepository(MessageDocument)
        self._claims = claims

    async def add_once(self, message: Message) -> tuple[Message, bool]:
        if message.external_id is None:
            document = MessageDocument(
                status_rank=STATUS_RANK[message.status],
                **message.model_dump(exclude={"id", "tenant_id"}),
            )
            if message.id is not None:
                document.id = PydanticObjectId(message.id)
            return (await self._scoped.insert(document)).to_entity(), True
        fields = message.model_dump(
            mode="python", exclude={"id", "tenant_id", "channel_id", "external_id"}
        )
        fields["status_rank"] = STATUS_RANK[message.status]
        key = {"channel_id": message.channel_id, "external_id": message.external_id}
        inserted = await self._scoped.upsert(key, {"$setOnInsert": _without_nulls(fields)})
        stored = await self.by_external_id(message.channel_id, message.external_id)
        assert stored is not None  # noqa: S101 - just written or found
        return stored, inserted

    async def get(self, message_id: str) -> Message | None:
        document = await self._scoped.get(message_id)
        return document.to_entity() if document else None

    def new_id(self) -> str:
        return str(ObjectId())

    async def discard(self, message_id: str) -> None:
        await self._scoped.delete(message_id)

    async def inbound_files(self, conversation_id: str) -> list[str]:
        found = await self._scoped.find(
            {"conversation_id": conversation_id, "direction": Direction.INBOUND.value,
             "media.file_id": {"$type": "string"}},
        )  # fmt: skip
        return [document.media.file_id for document in found if document.media is not None]

    async def erase_inbound(self, conversation_id: str) -> int:
        return await self._scoped.update_many(
            {"conversation_id": conversation_id, "direction": Direction.INBOUND.value,
             "content.erased": {"$ne": True}},  # those erased before are not counted again
            {"$set": {"content": {"erased": True}}, "$unset": {"text": "", "media": ""}},
        )  # fmt: skip

    async def attach_external_id(self, message_id: str, channel_id: str, external_id: str) -> bool:
        oid = to_object_id(message_id)
        if oid is None:
            return False
        await self._scoped.apply_where(
            {"_id": oid, "channel_id": channel_id, "direction": Direction.OUTBOUND.value,
             "external_id": None},
            {"$set": {"external_id": external_id}},
        )  # fmt: skip
        found = await self._scoped.get(oid)
        return found is not None and found.external_id == external_id

    async def claim_send(self, message_id: str, *, now: datetime, until: datetime) -> SendClaim:
        oid = to_object_id(message_id)
        if oid is None:
            return SendClaim()
        # The claim (Redis) and the message (the database) at once; the read stands when
        # the claim is new and both answered in less than CLAIM_END_DELAY_SECONDS (see
        # the module's doc), else the message is read again once the claim is held.
        key, tenant = str(oid), current_tenant()
        asked = time.monotonic()
        taken, document = await self._claim_and_read(key, tenant, oid, now=now, until=until)
        if taken.outcome is ClaimOutcome.OTHER_TENANT:
            return SendClaim()  # another tenant's message
        if taken.outcome is ClaimOutcome.HELD:
            return SendClaim(held_until=taken.held_until) if _sendable(document) else SendClaim()
        if (
            taken.outcome is ClaimOutcome.TAKEN_OVER
            or time.monotonic() - asked >= CLAIM_END_DELAY_SECONDS
        ):
            document = await self._scoped.get(oid)
        if document is not None and _sendable(document):
            return SendClaim(message=document.to_entity())
        self._end_claim_later(key)  # settled (or gone): the claim holds nothing
        return SendClaim()

    async def _claim_and_read(
        self, key: str, tenant: str, oid: ObjectId, *, now: datetime, until: datetime
    ) -> tuple[ClaimTake, MessageDocument | None]:
        """The claim and the message, asked for at once. A claim taken while the read
        failed is given back (best effort) before the failure is raised: the job's retry
        claims it again at once instead of waiting for this claim to run out."""
        taken, document = await asyncio.gather(
            self._claims.take(key, tenant, now=now, until=until),
            self._scoped.get(oid),
            return_exceptions=True,
        )
        if isinstance(document, BaseException):
            if isinstance(taken, ClaimTake) and taken.outcome in _HOLDS:
                with contextlib.suppress(ServiceUnavailable):
                    await self._claims.give_back(key, tenant)
            raise document
        if isinstance(taken, BaseException):
            raise taken
        return taken, document

    async def release_send(self, message_id: str) -> None:
        oid = to_object_id(message_id)
        if oid is not None:
            await self._claims.give_back(str(oid), current_tenant())

    def end_send(self, message_id: str) -> None:
        oid = to_object_id(message_id)
        if oid is not None:
            self._end_claim_later(str(oid))

    def _end_claim_later(self, key: str) -> None:
        """The message `key` is settled: its claim ends `CLAIM_END_DELAY_SECONDS` from
        now (Redis' expiry), asked for in the background (nobody waits for it; one left
        behind runs out by itself, and a run taking it over reads the message after it)."""
        in_background(
            self._claims.end_after(key, current_tenant(), CLAIM_END_DELAY_SECONDS),
            log, logging.INFO, "a settled message's claim was left to run out",
        )  # fmt: skip

    async def fail(self, message_id: str, error: MessageError, at: datetime) -> bool:
        oid = to_object_id(message_id)
        if oid is None:
            return False
        failed = await self._scoped.apply_where(
            {"_id": oid, "status_rank": {"$lt": _FINAL}},
            {"$set": {"status": MessageStatus.FAILED.value, "status_rank": _FINAL,
                      "error": error.model_dump(), "status_timestamps.failed": at}},
        )  # fmt: skip
        self._end_claim_later(str(oid))  # a claim on it, if any, holds nothing now
        return failed

    async def last_inbound(self, conversation_id: str) -> Message | None:
        found = await self._scoped.find(
            {"conversation_id": conversation_id, "direction": Direction.INBOUND.value,
             "external_id": {"$type": "string"}},
            sort=[("created_at", SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)],
            limit=1,
        )  # fmt: skip
        return found[0].to_entity() if found else None

    async def by_external_id(self, channel_id: str, external_id: str) -> Message | None:
        found = await self._scoped.find(
            tenant_first(channel_id=channel_id, external_id=external_id), limit=1
        )
        return found[0].to_entity() if found else None

    async def annotate(self, message_id: str, changes: dict[str, Any]) -> None:
        fields = {("text" if k == "text" else f"content.{k}"): v for k, v in changes.items()}
        await self._scoped.apply(message_id, {"$set": fields})

    async def mark_sent(self, message: Message, external_id: str, at: datetime) -> Message | None:
        oid = to_object_id(message.id or "")
        if oid is None:
            return None
        rank = STATUS_RANK[MessageStatus.SENT]
        # The usual case in one round trip: still without a provider id and not moved yet.
        # Not read back: what changed is what this update wrote (no provider id yet means
        # no status webhook has found the message; only the holder of the claim sends).
        # The message's channel and direction are known (read with the claim), so the
        # filter leaves them out: the embedded server's planner costs by key (3.4 against
        # 3.0 ms of its CPU).
        moved = await self._scoped.apply_where(
            {"_id": oid, "external_id": None, "status_rank": {"$lt": rank}},
            {"$set": {"external_id": external_id, "status": MessageStatus.SENT.value,
                      "status_rank": rank},
             "$min": {"status_timestamps.sent": at}},
        )  # fmt: skip
        if moved:
            stamps = dict(message.status_timestamps)
            stamps["sent"] = min(stamps.get("sent", at), at)
            return message.model_copy(
                update={"external_id": external_id, "status": MessageStatus.SENT,
                        "status_timestamps": stamps}
            )  # fmt: skip
        # A status webhook got there first (it found the message by its tracker).
        message_id, channel_id = str(oid), message.channel_id
        await self.attach_external_id(message_id, channel_id, external_id)
        change = StatusChange(
            channel_id=channel_id, external_id=external_id, status=MessageStatus.SENT, at=at
        )
        await self.apply_status(change)
        return await self.get(message_id)

    async def apply_status(self, change: StatusChange) -> bool | None:
        # By `_id` once found by its (indexed) wamid: the embedded server answers a filter
        # mixing the wamid with a range (`status_rank < n`) by scanning the collection.
        found = await self._scoped.find(
            {"channel_id": change.channel_id, "external_id": change.external_id}, limit=1
        )
        if not found:
            return None
        key = {"_id": found[0].id}
        rank = STATUS_RANK[change.status]
        moved: dict[str, Any] = {"status": change.status.value, "status_rank": rank}
        if change.error is not None:
            moved["error"] = change.error.model_dump()
        forward = {**key, "status_rank": {"$lt": rank}}
        # The state's timestamp with the move, so a reader never sees the one without the other.
        stamp = {f"status_timestamps.{change.status.value}": change.at}
        advanced = await self._scoped.apply_where(forward, {"$set": moved, "$min": stamp})
        # Whatever the order: the state's (earliest) timestamp, and the pricing.
        record: dict[str, Any] = {"$min": {f"status_timestamps.{change.status.value}": change.at}}
        if change.pricing:
            record["$set"] = {"pricing": change.pricing}
        known = await self._scoped.apply_where(key, record)
        return advanced if known else None

    async def link_media(self, message_id: str, media: MediaLink) -> bool:
        oid = to_object_id(message_id)
        if oid is None:
            return False
        return await self._scoped.apply_where(  # the first copy, never onto an erased message
            {"_id": oid, "media": None, "content.erased": {"$ne": True}},
            {"$set": {"media": media.model_dump()}},
        )

    async def page(self, conversation_id: str, *, cursor: str | None, limit: int) -> MessagePage:
        filter = {"conversation_id": conversation_id, **after_cursor("created_at", cursor)}
        found = await self._scoped.find(
            filter,
            sort=[("created_at", SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)],
            limit=limit + 1,
        )
        items = [d.to_entity() for d in found[:limit]]
        last = found[limit - 1] if len(found) > limit else None
        cursor_out = encode_cursor(last.created_at, str(last.id)) if last is not None else None
        return MessagePage(items=items, next_cursor=cursor_out)


def _without_nulls(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class MongoStaleOutbound:
    """`StaleOutbound` adapter: a platform-level read (no tenant), from `status_created`;
    the messages a run holds are left out (their claims, `SendClaims`)."""

    def __init__(self, claims: SendClaims) -> None:
        self._claims = claims

    async def queued_before(
        self, before: datetime, *, now: datetime, limit: int
    ) -> list[tuple[str, str]]:
        stale = {
            "status": MessageStatus.QUEUED.value,
            "created_at": {"$lt": before},
            "direction": Direction.OUTBOUND.value,
        }
        collection = MessageDocument.get_pymongo_collection()
        with database_errors():
            cursor = (
                collection.find(stale, projection={TENANT_FIELD: 1})
                .sort("created_at", 1)
                .limit(limit)
            )
            found = [(str(row[TENANT_FIELD]), str(row["_id"])) async for row in cursor]
        if not found:
            return []
        held = await self._claims.held([oid for _, oid in found], now=now)
        return [(tenant, oid) for tenant, oid in found if oid not in held]

    async def count_requeue(self, tenant_id: str, message_id: str) -> int:
        oid = to_object_id(message_id)
        if oid is None:
            return 0
        collection = MessageDocument.get_pymongo_collection()
        with database_errors():
            await collection.update_one(
                {"_id": oid, TENANT_FIELD: tenant_id}, {"$inc": {_REQUEUES: 1}}
            )
            row = await collection.find_one({"_id": oid}, projection={_REQUEUES: 1})
        return int(row.get(_REQUEUES, 0)) if row else 0
