"""Inbox messages in MongoDB, within the current tenant.

`(tenant, channel, external_id)` is unique (partial: outbound messages not sent yet have
no external id), so a redelivered inbound message is stored once. Statuses move by a
conditional update on `status_rank` (see `api.domain.messaging.messages`), so statuses
arriving late, twice or concurrently never move a message backwards.

A send run's claim on a message is a document of its own in `send_claims` (`_id`: the
message's), not a field of the message: the embedded server (SecantusDB) rewrites every
index entry of a document on any update, so a claim written on the message cost 3.5 ms
of its CPU against 0.5 ms for an insert in a collection with no other index (and about
as much again to end it: a delete there, where the message needed no write).

A claim is taken and the message read at the same time (one round trip's wait, not two).
That read is only trusted when no outcome can have been stored between it and the claim:
a claim whose message is settled (sent or failed) is deleted `CLAIM_END_DELAY_SECONDS`
after the outcome was stored, never sooner, so for that long after any outcome a new
claim on the message is refused. A new claim taken in less time than that since both
were asked for was therefore refused had an outcome been stored after the read: the read
stands. Otherwise (a claim taken over from a run out of time, one taken again after it
ended meanwhile, or a slow answer) the message is read again after the claim. A claim
given back (`release_send`: no outcome, the message still to send) ends at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any, ClassVar, Literal

from beanie import Document, PydanticObjectId, SortDirection
from bson import ObjectId
from pymongo import DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from api.common.background import in_background
from api.domain.messaging.content import Recipient
from api.domain.messaging.messages import (
    STATUS_RANK,
    Direction,
    MediaLink,
    Message,
    MessageError,
    MessagePage,
    MessageSender,
    MessageStatus,
    SendClaim,
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
_CLAIM_TRIES = 3  # a claim ended between our insert and our take-over: try again
# How long after a settled message's outcome its claim is deleted; a claim and a read
# asked for together are trusted when both answered within it (see the module's doc).
# The same in every process: a constant, not a setting.
CLAIM_END_DELAY_SECONDS = 2.0
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


class SendClaimDocument(Document):
    """One send run's hold on an outbound message (`_id`: the message's) until `until`;
    ended (deleted) when the message is given back, and a moment after it is sent or
    failed (`CLAIM_END_DELAY_SECONDS`). No index but `_id`."""

    tenant_id: str
    until: datetime

    class Settings:
        name = "send_claims"
        indexes: ClassVar[list[IndexModel]] = []


def _sendable(document: MessageDocument | None) -> bool:
    """Still to send: outbound, queued and without a provider id."""
    return (
        document is not None
        and document.direction is Direction.OUTBOUND
        and document.status is MessageStatus.QUEUED
        and document.external_id is None
    )


async def _new_claim(oid: ObjectId, tenant_id: str, until: datetime) -> bool:
    """A claim on the message `oid` for the tenant until `until`, if none is there."""
    with database_errors():
        try:
            await SendClaimDocument.get_pymongo_collection().insert_one(
                {"_id": oid, TENANT_FIELD: tenant_id, "until": until}
            )
        except DuplicateKeyError:
            return False
    return True


async def _take_claim(
    oid: ObjectId, tenant_id: str, now: datetime, until: datetime, *, refused: bool = False
) -> datetime | Literal[False] | None:
    """Hold the message `oid` for the tenant until `until`: a new claim, or one whose
    holder's time ran out by `now` (its run died). None when taken; when a live run holds
    it, when that run's time runs out; False when the claim is another tenant's.
    `refused`: a new claim was just refused (the first try is the take-over)."""
    claims = SendClaimDocument.get_pymongo_collection()
    with database_errors():
        for attempt in range(_CLAIM_TRIES):
            if not (refused and attempt == 0) and await _new_claim(oid, tenant_id, until):
                return None
            row = await claims.find_one({"_id": oid})
            if row is None:
                continue  # ended meanwhile: claim it anew
            if row[TENANT_FIELD] != tenant_id:
                return False
            held: datetime = row["until"]
            if held > now:
                return held
            # Ran out: taken over unless another run took it over first (the value read).
            taken = await claims.update_one(
                {"_id": oid, TENANT_FIELD: tenant_id, "until": held}, {"$set": {"until": until}}
            )
            if taken.matched_count == 1:
                return None
    return now  # claimed and ended by others each time: held, for a moment


async def _end_claim(oid: ObjectId) -> None:
    """The current tenant's claim on the message `oid` ends, if there is one."""
    with database_errors():
        await SendClaimDocument.get_pymongo_collection().delete_one(
            {"_id": oid, TENANT_FIELD: current_tenant()}
        )


def _end_claim_later(oid: ObjectId) -> None:
    """The message `oid` is settled: its claim ends `CLAIM_END_DELAY_SECONDS` from now, in
    the background (nobody waits for it; one left behind, the process stopping first,
    runs out by itself, and a run taking it over reads the message after it). A timer,
    not a sleeping task: a loop that stops meanwhile drops it quietly."""
    asyncio.get_running_loop().call_later(CLAIM_END_DELAY_SECONDS, _start_ending, oid)


def _start_ending(oid: ObjectId) -> None:
    in_background(  # in the caller's tenant
        _end_claim(oid), log, logging.INFO, "a settled message's claim was left to run out"
    )


class BeanieMessageRepository:
    """`MessageRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(MessageDocument)

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
            {"conversation_id": conversation_id, "direction": Direction.INBOUND.value},
            {"$set": {"content": {"erased": True}}, "$unset": {"text": "", "media": ""}},
        )

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
        # The claim and the message at once; the read stands when the claim is new and
        # both answered in less than CLAIM_END_DELAY_SECONDS (see the module's doc),
        # else the message is read again once the claim is held.
        tenant = current_tenant()
        asked = time.monotonic()
        new, document = await asyncio.gather(_new_claim(oid, tenant, until), self._scoped.get(oid))
        held: datetime | Literal[False] | None = None
        if not new or time.monotonic() - asked >= CLAIM_END_DELAY_SECONDS:
            if not new:
                held = await _take_claim(oid, tenant, now, until, refused=True)
            if held is False:
                return SendClaim()  # another tenant's message
            if held is None:
                document = await self._scoped.get(oid)
        if held is None and _sendable(document):
            assert document is not None  # noqa: S101 - sendable
            return SendClaim(message=document.to_entity())
        if held is None:
            _end_claim_later(oid)  # settled (or gone): the claim holds nothing
        return SendClaim(held_until=held) if _sendable(document) else SendClaim()

    async def release_send(self, message_id: str) -> None:
        oid = to_object_id(message_id)
        if oid is not None:
            await _end_claim(oid)

    def end_send(self, message_id: str) -> None:
        oid = to_object_id(message_id)
        if oid is not None:
            _end_claim_later(oid)

    async def fail(self, message_id: str, error: MessageError, at: datetime) -> bool:
        oid = to_object_id(message_id)
        if oid is None:
            return False
        failed = await self._scoped.apply_where(
            {"_id": oid, "status_rank": {"$lt": _FINAL}},
            {"$set": {"status": MessageStatus.FAILED.value, "status_rank": _FINAL,
                      "error": error.model_dump(), "status_timestamps.failed": at}},
        )  # fmt: skip
        _end_claim_later(oid)  # a claim on it, if any, holds nothing now
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
    """`StaleOutbound` adapter: a platform-level read (no tenant), from `status_created`."""

    async def queued_before(
        self, before: datetime, *, now: datetime, limit: int
    ) -> list[tuple[str, str]]:
        stale = {
            "status": MessageStatus.QUEUED.value,
            "created_at": {"$lt": before},
            "direction": Direction.OUTBOUND.value,
        }
        collection = MessageDocument.get_pymongo_collection()
        claims = SendClaimDocument.get_pymongo_collection()
        with database_errors():
            cursor = (
                collection.find(stale, projection={TENANT_FIELD: 1})
                .sort("created_at", 1)
                .limit(limit)
            )
            found = [(str(row[TENANT_FIELD]), row["_id"]) async for row in cursor]
            if not found:
                return []
            held = {  # a run holds them (a claim whose time has not run out)
                row["_id"]
                async for row in claims.find(
                    {"_id": {"$in": [oid for _, oid in found]}, "until": {"$gt": now}},
                    projection={"_id": 1},
                )
            }
        return [(tenant, str(oid)) for tenant, oid in found if oid not in held]

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
