"""Campaigns, their runs and their recipient rows in MongoDB, within the current tenant.

- `campaigns`: listed newest first; the dispatcher's cross-tenant read of the due ones
  (`PlatformCampaignSchedule`, ids only) uses its own (status, next_run_at) index.
- `campaign_runs`: unique per (tenant, campaign, window), so of two dispatchers creating
  the run of one window, one insert wins and the other is told "already there" (None).
- `campaign_recipients`: unique per (tenant, run, contact), so a redelivered snapshot adds
  nothing twice. Claiming is two steps that never hand one row to two workers: the ids of
  some pending rows are read, then one `update_many` moves those still `pending` to
  `sending` under the caller's claim (each row's update is atomic, so a row another claimer
  took meanwhile no longer matches), and the rows holding the claim are read back. Every
  later write (`record_results`) is guarded by the row's claim and `sending` status.

SecantusDB notes: filters are plain dicts with `tenant_id` (or `_id`) first, and no range
is mixed with an equality where avoidable: `not_before` and `claimed_until` are compared
in Python on the few rows a status equality returns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from beanie import SortDirection
from beanie.odm.utils.encoder import Encoder
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import BulkWriteError

from api.common.clock import utcnow
from api.domain.errors import Conflict, InvalidInput
from api.domain.messaging.campaigns import (
    FAILABLE,
    PROGRESS,
    Audience,
    Campaign,
    CampaignPage,
    CampaignRecipient,
    CampaignRun,
    CampaignRunPage,
    CampaignStatus,
    CampaignVariable,
    DueCampaign,
    PlainMessage,
    RecipientAddress,
    RecipientCounts,
    RecipientOutcome,
    RecipientPage,
    RecipientResult,
    RecipientStatus,
    RunStatus,
    Schedule,
    SkipReason,
    StalledRun,
    TemplateRef,
)
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    tenant_first,
    to_object_id,
)
from api.infrastructure.persistence.base.writes import InsertOp, UpdateOp
from api.infrastructure.persistence.messaging.cursors import (
    BAD_CURSOR,
    after_cursor,
    encode_cursor,
)

_DUPLICATE_KEY = 11000
_NEWEST = [("created_at", SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)]
_LATEST_WINDOW = [("window", SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)]
_SNAPSHOT_ORDER = [("_id", SortDirection.ASCENDING)]
_ENTITY_EXCLUDE = {"id", "revision_id", TENANT_FIELD}


def _stored(changes: dict[str, object]) -> dict[str, Any]:
    """`changes` as the driver stores them (models as documents, enums as strings)."""
    encoded: dict[str, Any] = Encoder().encode(changes)
    return encoded


class CampaignDocument(TenantOwnedDocument):
    name: str
    channel_id: str
    template: TemplateRef | None = None
    message: PlainMessage | None = None
    variables: list[CampaignVariable] = []
    audience: Audience
    schedule: Schedule | None = None
    status: CampaignStatus = CampaignStatus.DRAFT
    messages_per_second: int
    next_run_at: datetime | None = None
    current_run_id: str | None = None
    owner_id: str | None = None
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "campaigns"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="tenant_newest",
            ),
            IndexModel([(TENANT_FIELD, 1), ("status", 1)], name="tenant_status"),
            # The dispatcher's cross-tenant read (platform-level, ids only).
            IndexModel([("status", 1), ("next_run_at", ASCENDING)], name="due"),
        ]

    def to_entity(self) -> Campaign:
        return Campaign(id=str(self.id), **self.model_dump(exclude=_ENTITY_EXCLUDE))


class CampaignRunDocument(TenantOwnedDocument):
    campaign_id: str
    window: datetime
    status: RunStatus = RunStatus.SNAPSHOTTING
    recipients: int = 0
    opted_out_skipped: int = 0
    lease_until: datetime | None = None
    lease_holder: str | None = None
    next_seq: int = 0
    media_id: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None

    class Settings:
        name = "campaign_runs"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("campaign_id", 1), ("window", 1)],
                unique=True,
                name="campaign_window_unique",
            ),
            IndexModel(
                [
                    (TENANT_FIELD, 1),
                    ("campaign_id", 1),
                    ("window", DESCENDING),
                    ("_id", DESCENDING),
                ],
                name="campaign_latest",
            ),
            IndexModel([(TENANT_FIELD, 1), ("status", 1)], name="tenant_status"),
            # The dispatcher's cross-tenant read of stalled snapshots (platform-level).
            IndexModel([("status", 1), ("lease_until", ASCENDING)], name="stalled"),
        ]

    def to_entity(self) -> CampaignRun:
        return CampaignRun(id=str(self.id), **self.model_dump(exclude=_ENTITY_EXCLUDE))


class CampaignRecipientDocument(TenantOwnedDocument):
    campaign_id: str
    run_id: str
    contact_id: str
    address: RecipientAddress = RecipientAddress()
    name: str | None = None
    variables: dict[str, str] = {}
    seq: int | None = None
    status: RecipientStatus = RecipientStatus.PENDING
    skip_reason: SkipReason | None = None
    claim: str | None = None
    claimed_until: datetime | None = None
    attempts: int = 0
    not_before: datetime | None = None
    wamid: str | None = None
    error_code: str | None = None
    error_title: str | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    updated_at: datetime

    class Settings:
        name = "campaign_recipients"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("run_id", 1), ("contact_id", 1)],
                unique=True,
                name="run_contact_unique",
            ),
            IndexModel(
                [(TENANT_FIELD, 1), ("run_id", 1), ("status", 1), ("_id", 1)],
                name="run_status",
            ),
            IndexModel([(TENANT_FIELD, 1), ("wamid", 1)], name="tenant_wamid"),
            # The send engine's claims, by ranges of the snapshot's order (a status query
            # with a limit reads every pending row on the embedded server).
            IndexModel([(TENANT_FIELD, 1), ("run_id", 1), ("seq", 1)], name="run_seq"),
            IndexModel(
                [(TENANT_FIELD, 1), ("campaign_id", 1), ("status", 1)], name="campaign_status"
            ),
            # The month's messages a plan counts (api/infrastructure/persistence/plans).
            IndexModel([(TENANT_FIELD, 1), ("sent_at", 1)], name="tenant_sent"),
        ]

    @classmethod
    def from_entity(cls, row: CampaignRecipient) -> CampaignRecipientDocument:
        return cls(**row.model_dump(exclude={"id"}))

    def to_entity(self) -> CampaignRecipient:
        return CampaignRecipient(id=str(self.id), **self.model_dump(exclude=_ENTITY_EXCLUDE))


class BeanieCampaignRepository:
    """`CampaignRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(CampaignDocument)

    async def add(self, campaign: Campaign) -> Campaign:
        document = CampaignDocument(**campaign.model_dump(exclude={"id"}))
        return (await self._scoped.insert(document)).to_entity()

    async def get(self, campaign_id: str) -> Campaign | None:
        document = await self._scoped.get(campaign_id)
        return document.to_entity() if document else None

    async def page(
        self, *, status: CampaignStatus | None, cursor: str | None, limit: int
    ) -> CampaignPage:
        filter: dict[str, Any] = tenant_first()
        if status is not None:
            filter["status"] = status.value
        filter.update(after_cursor("created_at", cursor))
        found = await self._scoped.find(filter, sort=_NEWEST, limit=limit + 1)
        items = [d.to_entity() for d in found[:limit]]
        last = found[limit - 1] if len(found) > limit else None
        next_cursor = encode_cursor(last.created_at, str(last.id)) if last else None
        return CampaignPage(items=items, next_cursor=next_cursor)

    async def update(
        self,
        campaign_id: str,
        changes: dict[str, object],
        *,
        statuses: frozenset[CampaignStatus] | None = None,
    ) -> Campaign | None:
        oid = to_object_id(campaign_id)
        if oid is None:
            return None
        condition: dict[str, Any] = {"_id": oid}
        if statuses is not None:
            condition["status"] = {"$in": sorted(s.value for s in statuses)}
        update = {"$set": _stored({**changes, "updated_at": utcnow()})}
        if not await self._scoped.apply_where(condition, update):
            return None
        return await self.get(campaign_id)

    async def claim_window(
        self, campaign_id: str, window: datetime, changes: dict[str, object]
    ) -> Campaign | None:
        oid = to_object_id(campaign_id)
        if oid is None:
            return None
        condition = {"_id": oid, "status": CampaignStatus.SCHEDULED.value, "next_run_at": window}
        update = {"$set": _stored({**changes, "updated_at": utcnow()})}
        if not await self._scoped.apply_where(condition, update):
            return None
        return await self.get(campaign_id)

    async def delete(
        self, campaign_id: str, *, statuses: frozenset[CampaignStatus] | None = None
    ) -> bool:
        oid = to_object_id(campaign_id)
        if oid is None:
            return False
        condition: dict[str, Any] = {"_id": oid}
        if statuses is not None:
            condition["status"] = {"$in": sorted(s.value for s in statuses)}
        return await self._scoped.delete_many(condition) == 1


class PlatformCampaignSchedule:
    """`CampaignSchedule` adapter (platform-level by design; read-only, ids only): due
    campaigns and stalled snapshots."""

    async def due(self, at: datetime, limit: int) -> list[DueCampaign]:
        collection = CampaignDocument.get_pymongo_collection()
        with database_errors():
            cursor = (
                collection.find(
                    {"status": CampaignStatus.SCHEDULED.value, "next_run_at": {"$lte": at}},
                    {TENANT_FIELD: 1, "next_run_at": 1},
                )
                .sort("next_run_at", ASCENDING)
                .limit(limit)
            )
            return [
                DueCampaign(
                    tenant_id=row[TENANT_FIELD],
                    campaign_id=str(row["_id"]),
                    next_run_at=row["next_run_at"],
                )
                async for row in cursor
            ]

    async def stalled_snapshots(self, at: datetime, limit: int) -> list[StalledRun]:
        collection = CampaignRunDocument.get_pymongo_collection()
        with database_errors():
            cursor = (
                collection.find(
                    {"status": RunStatus.SNAPSHOTTING.value, "lease_until": {"$lt": at}},
                    {TENANT_FIELD: 1},
                )
                .sort("lease_until", ASCENDING)
                .limit(limit)
            )
            return [
                StalledRun(tenant_id=row[TENANT_FIELD], run_id=str(row["_id"]))
                async for row in cursor
            ]


class BeanieCampaignRunRepository:
    """`CampaignRunRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(CampaignRunDocument)

    async def create(self, run: CampaignRun) -> CampaignRun | None:
        document = CampaignRunDocument(**run.model_dump(exclude={"id"}))
        try:
            await self._scoped.insert(document)
        except Conflict:
            return None  # this window's run exists: another dispatcher made it
        return document.to_entity()

    async def get(self, run_id: str) -> CampaignRun | None:
        document = await self._scoped.get(run_id)
        return document.to_entity() if document else None

    async def for_window(self, campaign_id: str, window: datetime) -> CampaignRun | None:
        found = await self._scoped.find(
            tenant_first(campaign_id=campaign_id, window=window), limit=1
        )
        return found[0].to_entity() if found else None

    async def page(self, campaign_id: str, *, cursor: str | None, limit: int) -> CampaignRunPage:
        filter = {**tenant_first(campaign_id=campaign_id), **after_cursor("window", cursor)}
        found = await self._scoped.find(filter, sort=_LATEST_WINDOW, limit=limit + 1)
        items = [d.to_entity() for d in found[:limit]]
        last = found[limit - 1] if len(found) > limit else None
        next_cursor = encode_cursor(last.window, str(last.id)) if last else None
        return CampaignRunPage(items=items, next_cursor=next_cursor)

    async def update(
        self,
        run_id: str,
        changes: dict[str, object],
        *,
        statuses: frozenset[RunStatus] | None = None,
    ) -> CampaignRun | None:
        oid = to_object_id(run_id)
        if oid is None:
            return None
        condition: dict[str, Any] = {"_id": oid}
        if statuses is not None:
            condition["status"] = {"$in": sorted(s.value for s in statuses)}
        if not await self._scoped.apply_where(condition, {"$set": _stored(changes)}):
            return None
        return await self.get(run_id)

    async def increment(self, run_id: str, amounts: dict[str, int]) -> bool:
        oid = to_object_id(run_id)
        if oid is None:
            return False
        return await self._scoped.increment({"_id": oid}, amounts)

    async def in_status(self, statuses: frozenset[RunStatus], limit: int) -> list[CampaignRun]:
        found = await self._scoped.find(
            tenant_first(status={"$in": sorted(s.value for s in statuses)}),
            sort=[("_id", SortDirection.ASCENDING)],
            limit=limit,
        )
        return [d.to_entity() for d in found]

    async def take_lease(
        self, run_id: str, holder: str, until: datetime, now: datetime, *, previous: str | None
    ) -> CampaignRun | None:
        oid = to_object_id(run_id)
        if oid is None:
            return None
        sending = {"_id": oid, "status": RunStatus.SENDING.value}
        lease = {"$set": {"lease_holder": holder, "lease_until": until}}
        # Three plain conditions rather than one `$or` (which the embedded server scans):
        # handed over by `previous`, never held by a send job (the snapshot's lease is no
        # send job's), or run out.
        conditions: list[dict[str, Any]] = [{"lease_holder": previous}] if previous else []
        conditions += [{"lease_holder": None}, {"lease_until": {"$lt": now}}]
        for condition in conditions:
            if await self._scoped.apply_where({**sending, **condition}, lease):
                return await self.get(run_id)
        return None

    async def renew_lease(
        self, run_id: str, holder: str, until: datetime, *, next_seq: int | None = None
    ) -> bool:
        oid = to_object_id(run_id)
        if oid is None:
            return False
        changes: dict[str, Any] = {"lease_until": until}
        if next_seq is not None:
            changes["next_seq"] = next_seq
        return await self._scoped.apply_where(
            {"_id": oid, "status": RunStatus.SENDING.value, "lease_holder": holder},
            {"$set": changes},
        )

    async def release_lease(self, run_id: str, holder: str) -> None:
        oid = to_object_id(run_id)
        if oid is not None:
            await self._scoped.apply_where(
                {"_id": oid, "lease_holder": holder},
                {"$set": {"lease_holder": None, "lease_until": None}},
            )


def _result_update(result: RecipientResult) -> dict[str, Any]:
    fields: dict[str, Any] = {"status": result.outcome.value, "updated_at": result.at}
    match result.outcome:
        case RecipientOutcome.SENT:
            fields.update(wamid=result.wamid, sent_at=result.at, claimed_until=None)
        case RecipientOutcome.FAILED:
            fields.update(error_code=result.error_code, error_title=result.error_title,
                          claimed_until=None)  # fmt: skip
        case RecipientOutcome.SKIPPED:
            reason = result.skip_reason.value if result.skip_reason else None
            fields.update(skip_reason=reason, claimed_until=None)
        case RecipientOutcome.RETRY:
            fields.update(
                status=RecipientStatus.PENDING.value, not_before=result.not_before,
                claim=None, claimed_until=None, error_code=result.error_code,
                error_title=result.error_title,
            )  # fmt: skip
    return {"$set": fields}


def _recipient_cursor(cursor: str | None) -> dict[str, Any]:
    if cursor is None:
        return {}
    oid = to_object_id(cursor)
    if oid is None:
        raise InvalidInput(BAD_CURSOR)
    return {"_id": {"$gt": oid}}


class BeanieCampaignRecipientRepository:
    """`CampaignRecipientRepository` adapter (fail closed: `TenantRequired` without a
    tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(CampaignRecipientDocument)

    async def add_snapshot(self, rows: list[CampaignRecipient]) -> int:
        if not rows:
            return 0
        inserts = [InsertOp(CampaignRecipientDocument.from_entity(row)) for row in rows]
        try:
            return (await self._scoped.bulk_write(inserts, ordered=False)).inserted
        except Conflict as exc:
            cause = exc.__cause__
            if not isinstance(cause, BulkWriteError):
                raise
            errors = cause.details.get("writeErrors", [])
            if any(error.get("code") != _DUPLICATE_KEY for error in errors):
                raise
            return int(cause.details.get("nInserted", 0))  # the rest were there already

    async def claim_batch(
        self, run_id: str, limit: int, claim: str, until: datetime, now: datetime
    ) -> list[CampaignRecipient]:
        if limit < 1:
            return []
        pending = tenant_first(run_id=run_id, status=RecipientStatus.PENDING.value)
        claimed: list[CampaignRecipientDocument] = []
        # Rows another claimer took between our read and our update are not ours: read
        # further ones until the batch is full or no pending row is ready (each round that
        # loses a row lost it to a claimer that took it, so this ends).
        while len(claimed) < limit:
            wanted = limit - len(claimed)
            ready = await self._scoped.find(
                {**pending, "not_before": None}, sort=_SNAPSHOT_ORDER, limit=wanted
            )
            ids = [d.id for d in ready]
            if len(ids) < wanted:  # rows backed off earlier whose time has come
                waiting = await self._scoped.find(
                    {**pending, "not_before": {"$ne": None}}, sort=_SNAPSHOT_ORDER
                )
                ids += [d.id for d in waiting if d.not_before and d.not_before <= now][
                    : wanted - len(ids)
                ]
            if not ids:
                break
            await self._scoped.update_many(
                {"_id": {"$in": ids}, "status": RecipientStatus.PENDING.value},
                {
                    "$set": {"status": RecipientStatus.SENDING.value, "claim": claim,
                             "claimed_until": until, "updated_at": now},
                    "$inc": {"attempts": 1},
                },
            )  # fmt: skip
            claimed += await self._scoped.find(
                {"_id": {"$in": ids}, "claim": claim, "status": RecipientStatus.SENDING.value},
                sort=_SNAPSHOT_ORDER,
            )
        return [d.to_entity() for d in claimed]

    async def record_results(self, results: list[RecipientResult]) -> int:
        operations = []
        for result in results:
            oid = to_object_id(result.recipient_id)
            if oid is None:
                continue
            guard = {"_id": oid, "claim": result.claim, "status": RecipientStatus.SENDING.value}
            operations.append(UpdateOp(guard, _result_update(result)))
        if not operations:
            return 0
        return (await self._scoped.bulk_write(operations, ordered=False)).matched

    async def expired_claims(self, run_id: str, now: datetime) -> list[CampaignRecipient]:
        sending = await self._scoped.find(
            tenant_first(run_id=run_id, status=RecipientStatus.SENDING.value),
            sort=_SNAPSHOT_ORDER,
        )
        return [d.to_entity() for d in sending if d.claimed_until is None or d.claimed_until < now]

    async def apply_status_by_wamid(
        self,
        wamid: str,
        status: RecipientStatus,
        at: datetime,
        error: tuple[str | None, str | None] | None = None,
    ) -> bool:
        condition = tenant_first(wamid=wamid, status={"$in": _sources(status)})
        if await self._scoped.apply_where(condition, {"$set": _status_fields(status, at, error)}):
            return True
        if status in PROGRESS:  # late (the row is further already): its time, if none
            further = sorted(s.value for s, r in PROGRESS.items() if r > PROGRESS[status])
            stamp = f"{status.value}_at"
            await self._scoped.apply_where(
                tenant_first(wamid=wamid, status={"$in": further}, **{stamp: None}),
                {"$set": {stamp: at}},
            )
        return False

    async def counts(
        self, *, run_id: str | None = None, campaign_id: str | None = None
    ) -> RecipientCounts:
        if (run_id is None) == (campaign_id is None):
            raise ValueError("count the rows of one run or of one campaign")
        match = {"run_id": run_id} if run_id is not None else {"campaign_id": campaign_id}
        rows = await self._scoped.aggregate([
            {"$match": match},
            {"$group": {"_id": {"s": "$status", "c": "$error_code", "r": "$skip_reason"},
                        "n": {"$sum": 1}}},
        ])  # fmt: skip
        counts = RecipientCounts()
        for row in rows:
            key, n = row["_id"], int(row["n"])
            status = key.get("s")
            counts.by_status[status] = counts.by_status.get(status, 0) + n
            if status == RecipientStatus.FAILED.value:
                code = str(key.get("c") or "unknown")
                counts.failures_by_code[code] = counts.failures_by_code.get(code, 0) + n
            elif status == RecipientStatus.SKIPPED.value:
                reason = str(key.get("r") or "unknown")
                counts.skipped_by_reason[reason] = counts.skipped_by_reason.get(reason, 0) + n
        return counts

    async def page(
        self,
        campaign_id: str,
        *,
        run_id: str | None,
        status: RecipientStatus | None,
        cursor: str | None,
        limit: int,
    ) -> RecipientPage:
        filter: dict[str, Any] = (
            tenant_first(run_id=run_id, campaign_id=campaign_id)
            if run_id is not None
            else tenant_first(campaign_id=campaign_id)
        )
        if status is not None:
            filter["status"] = status.value
        filter.update(_recipient_cursor(cursor))
        found = await self._scoped.find(filter, sort=_SNAPSHOT_ORDER, limit=limit + 1)
        items = [d.to_entity() for d in found[:limit]]
        next_cursor = str(found[limit - 1].id) if len(found) > limit else None
        return RecipientPage(items=items, next_cursor=next_cursor)

    async def get(self, recipient_id: str) -> CampaignRecipient | None:
        document = await self._scoped.get(recipient_id)
        return document.to_entity() if document else None

    async def erase_contact(self, contact_id: str, at: datetime) -> int:
        # No index leads with the contact (the send path's inserts stay cheap): a rare
        # request reads the tenant's rows.
        await self._scoped.update_many(
            {"contact_id": contact_id, "status": RecipientStatus.PENDING.value},
            {"$set": {"status": RecipientStatus.SKIPPED.value,
                      "skip_reason": SkipReason.DELETED.value, "updated_at": at}},
        )  # fmt: skip
        return await self._scoped.update_many(
            {"contact_id": contact_id},
            {"$set": {"address": RecipientAddress().model_dump(), "variables": {},
                      "updated_at": at}, "$unset": {"name": ""}},
        )  # fmt: skip

    async def cancel_pending(self, run_id: str, at: datetime) -> int:
        return await self._scoped.update_many(
            tenant_first(run_id=run_id, status=RecipientStatus.PENDING.value),
            {"$set": {"status": RecipientStatus.SKIPPED.value,
                      "skip_reason": SkipReason.CANCELLED.value, "updated_at": at}},
        )  # fmt: skip

    async def apply_status_by_tracker(
        self,
        recipient_id: str,
        wamid: str,
        status: RecipientStatus,
        at: datetime,
        error: tuple[str | None, str | None] | None = None,
    ) -> bool:
        oid = to_object_id(recipient_id)
        if oid is None:
            return False
        fields = _status_fields(status, at, error)
        sources = [RecipientStatus.SENDING.value, *_sources(status)]
        condition = {"_id": oid, "wamid": None, "status": {"$in": sorted(set(sources))}}
        fields.update(wamid=wamid, claimed_until=None)
        return await self._scoped.apply_where(condition, {"$set": fields})

    async def by_wamid(self, wamid: str) -> CampaignRecipient | None:
        found = await self._scoped.find(tenant_first(wamid=wamid), limit=1)
        return found[0].to_entity() if found else None

    async def unsettled(self, run_id: str) -> tuple[int, int]:
        pending = await self._scoped.count(
            tenant_first(run_id=run_id, status=RecipientStatus.PENDING.value)
        )
        sending = await self._scoped.count(
            tenant_first(run_id=run_id, status=RecipientStatus.SENDING.value)
        )
        return pending, sending

    async def claim_range(
        self, run_id: str, start: int, stop: int, claim: str, until: datetime, now: datetime
    ) -> list[CampaignRecipient]:
        if stop <= start:
            return []
        # Only the indexed keys in the filter: with `status` too, the embedded server picks
        # the status index and reads every pending row.
        window = await self._scoped.find(
            tenant_first(run_id=run_id, seq={"$gte": start, "$lt": stop})
        )
        ready = [
            d for d in window
            if d.status is RecipientStatus.PENDING and (d.not_before is None or d.not_before <= now)
        ]  # fmt: skip
        if not ready:
            return []
        ids = [d.id for d in ready]
        taken = await self._scoped.update_many(
            {"_id": {"$in": ids}, "status": RecipientStatus.PENDING.value},
            {
                "$set": {"status": RecipientStatus.SENDING.value, "claim": claim,
                         "claimed_until": until, "updated_at": now},
                "$inc": {"attempts": 1},
            },
        )  # fmt: skip
        if taken == len(ids):  # every one: as read, with the claim (no second read)
            claimed = {"status": RecipientStatus.SENDING, "claim": claim,
                       "claimed_until": until, "updated_at": now}  # fmt: skip
            return [
                d.to_entity().model_copy(update={**claimed, "attempts": d.attempts + 1})
                for d in ready
            ]
        found = await self._scoped.find(
            {"_id": {"$in": ids}, "claim": claim, "status": RecipientStatus.SENDING.value},
            sort=_SNAPSHOT_ORDER,
        )
        return [d.to_entity() for d in found]


def _sources(status: RecipientStatus) -> list[str]:
    """The statuses a provider status may move a row from."""
    if status is RecipientStatus.FAILED:
        return sorted(s.value for s in FAILABLE)
    if status in PROGRESS:
        return sorted(s.value for s, r in PROGRESS.items() if r < PROGRESS[status])
    raise ValueError(f"a provider status cannot make a row {status.value}")


def _status_fields(
    status: RecipientStatus, at: datetime, error: tuple[str | None, str | None] | None
) -> dict[str, Any]:
    fields: dict[str, Any] = {"status": status.value, "updated_at": at}
    if status is RecipientStatus.FAILED:
        code, title = error or (None, None)
        fields.update(error_code=code, error_title=title)
    else:
        fields[f"{status.value}_at"] = at
    return fields
