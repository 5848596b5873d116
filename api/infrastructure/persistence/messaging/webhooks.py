"""Raw webhook deliveries (`webhook_events`) and the claims of their items
(`webhook_items`) in MongoDB.

Both are platform-level collections, like `failed_jobs`: a delivery of the platform's own
Meta app may carry items of several tenants, so the raw delivery is stored before any
tenant is known. Each record names its tenant when it is known; no tenant-scoped route
reads them. `webhook_items` has a unique index over (channel_id, key): the database, not
the code, decides which of two concurrent deliveries of one item wins the claim.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, ClassVar

from beanie import Document, SortDirection
from bson import ObjectId
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError, WriteError

from api.common.clock import utcnow
from api.common.group_commit import GroupCommit
from api.domain.messaging.channels import ChannelType
from api.domain.messaging.webhooks import (
    SETTLED,
    Claim,
    ItemState,
    WebhookEvent,
    WebhookEventStatus,
    WebhookItem,
)
from api.infrastructure.persistence.base.mongo import database_errors, ensure_ttl_index
from api.infrastructure.persistence.base.scoped import to_object_id

EVENTS_RETENTION_INDEX = "received_at_ttl"
ITEMS_RETENTION_INDEX = "updated_at_ttl"
_PENDING = [WebhookEventStatus.RECEIVED, WebhookEventStatus.QUEUED, WebhookEventStatus.RETRYING]
# Raw fields of a delivery, absent until processing: the keys of the people its items name
# (`webhook_subjects`); an erasure waiting for its processing to end; and the keys of people
# erased while it was in flight (whom it names was not known yet: checked when it is).
SUBJECTS = "subjects"
ERASE_PENDING = "erase_pending"
ERASE_CHECK = "erase_check"
_PROCESSED = WebhookEventStatus.PROCESSED.value
_IN_FLIGHT = [WebhookEventStatus.RECEIVED.value, WebhookEventStatus.QUEUED.value]


def _erased(at: datetime) -> dict[str, Any]:
    return {
        "$set": {"body": b"", "erased_at": at},
        "$unset": {SUBJECTS: "", ERASE_PENDING: "", ERASE_CHECK: ""},
    }


class WebhookEventDocument(Document):
    channel_type: ChannelType
    channel_id: str | None
    tenant_id: str | None
    received_at: datetime
    body: bytes
    signature_verified: bool
    status: WebhookEventStatus
    items: int = 0
    error: str | None = None
    erased_at: datetime | None = None

    class Settings:
        name = "webhook_events"
        # Every acknowledgement inserts here, and each index is work on that hot path:
        # only the sweep's (plus the retention TTL) is kept; no query reads by tenant. The
        # erasure's index is sparse: a delivery enters it when processed, not on arrival
        # (a partial one would do on MongoDB, but SecantusDB never reads a partial index:
        # every erasure would scan the deliveries).
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([("status", ASCENDING), ("received_at", ASCENDING)], name="status_age"),
            IndexModel([(SUBJECTS, ASCENDING)], name="subjects_sparse", sparse=True),
        ]

    def to_entity(self) -> WebhookEvent:
        return WebhookEvent(id=str(self.id), **self.model_dump(exclude={"id", "revision_id"}))


class MongoWebhookEventStore:
    """`WebhookEventStore` adapter. One instance per process: deliveries stored at the same
    moment go to the database together (`GroupCommit`: one `insert_many` for all of them,
    each caller answered when its own document is written)."""

    def __init__(self) -> None:
        self._inserts: GroupCommit[dict[str, Any], ObjectId] = GroupCommit(insert_deliveries)

    async def add(self, event: WebhookEvent) -> WebhookEvent:
        # The hot path of every acknowledgement: a plain insert (the fields are the
        # document's; no Beanie validation round), grouped with concurrent ones.
        fields = event.model_dump(exclude={"id"})
        with database_errors():
            inserted = await self._inserts.submit(fields)
        return event.model_copy(update={"id": str(inserted)})

    async def get(self, event_id: str) -> WebhookEvent | None:
        oid = to_object_id(event_id)
        if oid is None:
            return None
        with database_errors():
            document = await WebhookEventDocument.get(oid)
        return document.to_entity() if document else None

    async def set_status(
        self,
        event_id: str,
        status: WebhookEventStatus,
        *,
        items: int = 0,
        error: str | None = None,
        subjects: Collection[str] = (),
    ) -> None:
        changes: dict[str, Any] = {"status": status.value, "items": items, "error": error}
        named = {SUBJECTS: sorted(subjects)} if subjects else {}
        collection = WebhookEventDocument.get_pymongo_collection()
        oid = ObjectId(event_id)
        # The common case, no erasure marked the delivery: one plain update.
        unmarked: dict[str, Any] = {"_id": oid, ERASE_CHECK: {"$exists": False}}
        if status is WebhookEventStatus.PROCESSED:
            unmarked[ERASE_PENDING] = {"$exists": False}
        with database_errors():
            plain = await collection.update_one(unmarked, {"$set": {**changes, **named}})
            if plain.matched_count:
                return
            marks = await collection.find_one({"_id": oid}, {ERASE_PENDING: 1, ERASE_CHECK: 1})
            if marks is None:
                return
            checked = set(marks.get(ERASE_CHECK) or ())
            erase = bool(marks.get(ERASE_PENDING)) or not checked.isdisjoint(subjects)
            update: dict[str, Any]
            if erase and status is WebhookEventStatus.PROCESSED:
                update = _erased(utcnow())
                update["$set"].update(changes)
            elif erase:  # processing goes on: erased when it ends
                update = {"$set": {**changes, **named, ERASE_PENDING: True},
                          "$unset": {ERASE_CHECK: ""}}  # fmt: skip
            else:  # it names none of the people erased meanwhile
                update = {"$set": {**changes, **named}, "$unset": {ERASE_CHECK: ""}}
            await collection.update_one({"_id": oid}, update)

    async def erase_subjects(self, subjects: Collection[str], at: datetime) -> int:
        if not subjects:
            return 0
        collection = WebhookEventDocument.get_pymongo_collection()
        naming = {SUBJECTS: {"$in": sorted(subjects)}}
        with database_errors():
            # In flight first: whom they name is not recorded yet, so each is told whom to
            # look for, and its `set_status` erases it if it names them. Then the waiting
            # ones: one processed meanwhile is erased by its `set_status` (which finds the
            # mark) or by the last step (which finds it processed; a marked one whose
            # `set_status` failed half-way too). An erased delivery has no subjects left,
            # so running this again finds only what is still to erase.
            await collection.update_many(
                {"status": {"$in": _IN_FLIGHT}, SUBJECTS: {"$exists": False}},
                {"$addToSet": {ERASE_CHECK: {"$each": sorted(subjects)}}},
            )
            waiting = await collection.update_many(
                {**naming, "status": {"$ne": _PROCESSED}, ERASE_PENDING: {"$exists": False}},
                {"$set": {ERASE_PENDING: True}},
            )
            done = await collection.update_many({**naming, "status": _PROCESSED}, _erased(at))
        return waiting.modified_count + done.modified_count

    async def mark_queued(self, event_id: str) -> None:
        with database_errors():
            await WebhookEventDocument.get_pymongo_collection().update_one(
                {"_id": ObjectId(event_id), "status": WebhookEventStatus.RECEIVED.value},
                {"$set": {"status": WebhookEventStatus.QUEUED.value}},
            )

    async def stale(self, *, received_before: datetime, limit: int) -> list[str]:
        with database_errors():
            found = (
                await WebhookEventDocument.find(
                    {
                        "status": {"$in": [s.value for s in _PENDING]},
                        "received_at": {"$lt": received_before},
                    }
                )
                .sort([("received_at", SortDirection.ASCENDING)])
                .limit(limit)
                .to_list()
            )
        return [str(d.id) for d in found]


async def insert_deliveries(documents: list[dict[str, Any]]) -> list[ObjectId | BaseException]:
    """Insert the deliveries in one command; each one's id, or the error of the one that
    failed on its own (unordered: one bad document does not stop the others)."""
    collection = WebhookEventDocument.get_pymongo_collection()
    try:
        result = await collection.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        failed = {error["index"]: error for error in exc.details.get("writeErrors", [])}
        return [
            WriteError(failed[i].get("errmsg", "write failed"), failed[i].get("code"), failed[i])
            if i in failed
            else document["_id"]
            for i, document in enumerate(documents)
        ]
    return list(result.inserted_ids)


class WebhookItemDocument(Document):
    channel_id: str
    tenant_id: str | None
    key: str
    event_type: str
    webhook_event_id: str
    state: ItemState
    attempts: int
    lease_until: datetime | None = None
    error: str | None = None
    updated_at: datetime

    class Settings:
        name = "webhook_items"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [("channel_id", ASCENDING), ("key", ASCENDING)], unique=True, name="item_unique"
            ),
        ]


class MongoWebhookItemLedger:
    """`WebhookItemLedger` adapter: insert-or-claim, atomic per document."""

    async def claim(
        self,
        *,
        channel_id: str,
        tenant_id: str | None,
        key: str,
        event_type: str,
        webhook_event_id: str,
        now: datetime,
        lease_until: datetime,
    ) -> Claim:
        collection = WebhookItemDocument.get_pymongo_collection()
        fresh = WebhookItemDocument(
            channel_id=channel_id,
            tenant_id=tenant_id,
            key=key,
            event_type=event_type,
            webhook_event_id=webhook_event_id,
            state=ItemState.PROCESSING,
            attempts=1,
            lease_until=lease_until,
            updated_at=now,
        )
        with database_errors():
            try:
                await collection.insert_one(fresh.model_dump(exclude={"id", "revision_id"}))
                return Claim.TAKEN
            except DuplicateKeyError:
                pass
            # Seen before: take it over only when it failed transiently or its holder died.
            taken = await collection.find_one_and_update(
                {
                    "channel_id": channel_id,
                    "key": key,
                    "$or": [
                        {"state": ItemState.RETRY.value},
                        {"state": ItemState.PROCESSING.value, "lease_until": {"$lt": now}},
                    ],
                },
                {
                    "$set": {
                        "state": ItemState.PROCESSING.value,
                        "lease_until": lease_until,
                        "webhook_event_id": webhook_event_id,
                        "updated_at": now,
                    },
                    "$inc": {"attempts": 1},
                },
                return_document=ReturnDocument.AFTER,
            )
            if taken is not None:
                return Claim.TAKEN
            current = await collection.find_one({"channel_id": channel_id, "key": key})
        if current is not None and ItemState(current["state"]) in SETTLED:
            return Claim.SETTLED
        return Claim.HELD

    async def settle(
        self, *, channel_id: str, key: str, state: ItemState, error: str | None, now: datetime
    ) -> None:
        with database_errors():
            await WebhookItemDocument.get_pymongo_collection().update_one(
                {"channel_id": channel_id, "key": key},
                {
                    "$set": {
                        "state": state.value,
                        "error": error,
                        "lease_until": None,
                        "updated_at": now,
                    }
                },
            )

    async def get(self, channel_id: str, key: str) -> WebhookItem | None:
        with database_errors():
            document = await WebhookItemDocument.find_one({"channel_id": channel_id, "key": key})
        if document is None:
            return None
        return WebhookItem(**document.model_dump(exclude={"id", "revision_id", "lease_until"}))


async def ensure_webhook_retention(days: int) -> None:
    """TTL indexes forgetting deliveries and item records after `days` (longer than the
    days Meta retries a delivery, so a late retry still finds its items)."""
    seconds = days * 86400
    await ensure_ttl_index(WebhookEventDocument, "received_at", EVENTS_RETENTION_INDEX, seconds)
    await ensure_ttl_index(WebhookItemDocument, "updated_at", ITEMS_RETENTION_INDEX, seconds)
