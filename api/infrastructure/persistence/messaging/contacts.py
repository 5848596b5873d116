"""Contacts in MongoDB, within the current tenant.

`bsuid` and `wa_id` are each unique per tenant and channel, and `phone` per tenant
(partial unique indexes: only documents that have one), so two first messages of one
customer racing each other end in one contact: the upsert that loses the race is retried
and then matches. A deleted contact has no `phone`, `wa_id` or `bsuid` any more (they
move to `deleted_identity`), which frees them for a new contact.

One piece of code finds a customer (`_identity_keys`: the user id on the channel, else
the number in the tenant; `find`, `ensure` and `upsert_inbound` all go through it), and
one compiles a list query or a segment's filter to a MongoDB filter (`contact_filter`),
so a segment's preview, `GET /contacts?segment_id=` and a campaign's audience hold the
same contacts.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, ClassVar

from beanie import SortDirection
from pymongo import DESCENDING, IndexModel

from api.common.clock import utcnow
from api.domain.errors import Conflict
from api.domain.messaging.channels import ChannelType
from api.domain.messaging.contacts import (
    ConsentChange,
    ConsentState,
    Contact,
    ContactChannel,
    ContactIdentity,
    ContactPage,
    ContactQuery,
    ContactSource,
    ContactStats,
    SegmentFilter,
)
from api.infrastructure.persistence.base.mongo import database_errors, lookup_index
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    tenant_first,
    to_object_id,
)
from api.infrastructure.persistence.messaging.cursors import after_cursor, encode_cursor

_STRING = {"$type": "string"}
_LIVE: dict[str, Any] = {"deleted_at": None}
FORMER_IDS = "former_ids"  # numbers and user ids a change replaced, by field
# What erasing a contact removes (a data deletion request).
_PERSONAL = (
    "name", "phone", "wa_id", "bsuid", "username", "email", "language", "deleted_identity",
    FORMER_IDS,
)  # fmt: skip
_NEWEST = [("created_at", SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)]
TOP_TAGS = 100
_PRIVATE = {"id", "revision_id", "deleted_identity", FORMER_IDS, "channel_types",
            "merge_lock", "merge_lock_until"}  # fmt: skip
_RELEASED = ("phone", "wa_id", "bsuid")  # what a deletion or a merge takes off a contact


def _kept_aside(document: ContactDocument) -> dict[str, str]:
    return {k: str(v) for k, v in (document.deleted_identity or {}).items() if v}


class ContactDocument(TenantOwnedDocument):
    channel_id: str | None = None
    name: str | None = None
    phone: str | None = None
    wa_id: str | None = None
    bsuid: str | None = None
    username: str | None = None
    email: str | None = None
    language: str | None = None
    attributes: dict[str, Any] = {}
    tags: list[str] = []
    opted_out: bool = False
    opted_out_at: datetime | None = None
    opt_out_source: str | None = None
    opted_in_at: datetime | None = None
    opt_in_source: str | None = None
    source: ContactSource = ContactSource.INBOUND
    last_inbound_at: datetime | None = None
    channels: list[ContactChannel] = []
    channel_types: list[ChannelType] = []  # the channels' kinds, for `?channel_type=`
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    erased_at: datetime | None = None
    deleted_identity: dict[str, Any] | None = None
    former_ids: dict[str, list[str]] | None = None
    merged_into: str | None = None
    merging_into: str | None = None
    merge_lock: str | None = None  # the merge holding the contact, until `merge_lock_until`
    merge_lock_until: datetime | None = None

    class Settings:
        name = "contacts"
        keep_nulls = False  # absent ids stay absent, so the partial indexes skip them
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("channel_id", 1), ("bsuid", 1)],
                unique=True,
                partialFilterExpression={"bsuid": _STRING},
                name="channel_bsuid_unique",
            ),
            IndexModel(
                [(TENANT_FIELD, 1), ("channel_id", 1), ("wa_id", 1)],
                unique=True,
                partialFilterExpression={"wa_id": _STRING},
                name="channel_wa_id_unique",
            ),
            IndexModel(
                [(TENANT_FIELD, 1), ("phone", 1)],
                unique=True,
                partialFilterExpression={"phone": _STRING},
                name="phone_unique",
            ),
            IndexModel(
                [(TENANT_FIELD, 1), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="tenant_newest",
            ),
            IndexModel([(TENANT_FIELD, 1), ("tags", 1)], name="tenant_tags"),
            IndexModel([(TENANT_FIELD, 1), ("channel_types", 1)], name="tenant_channel_types"),
            IndexModel([(TENANT_FIELD, 1), ("email", 1)], name="tenant_email"),
            lookup_index(
                [(TENANT_FIELD, 1), ("channel_id", 1), ("bsuid", 1)], name="channel_bsuid"
            ),
            lookup_index(
                [(TENANT_FIELD, 1), ("channel_id", 1), ("wa_id", 1)], name="channel_wa_id"
            ),
            lookup_index([(TENANT_FIELD, 1), ("phone", 1)], name="tenant_phone"),
            # The contacts merged into one (its erasure erases them too).
            IndexModel([(TENANT_FIELD, 1), ("merged_into", 1)], name="tenant_merged_into"),
        ]

    def to_entity(self) -> Contact:
        return Contact(
            id=str(self.id),
            **self.model_dump(exclude=_PRIVATE),
        )


def _channels_added(channels: list[ContactChannel]) -> dict[str, Any]:
    """`$addToSet` of channels (each once; the kinds too, for the filter)."""
    entries = [{"channel_id": c.channel_id, "channel_type": c.channel_type.value}
               for c in channels]  # fmt: skip
    kinds = list(dict.fromkeys(c.channel_type.value for c in channels))
    return {"channels": {"$each": entries}, "channel_types": {"$each": kinds}}


def _refresh(
    channel_id: str, identity: ContactIdentity, at: datetime, channel_type: ChannelType | None
) -> dict[str, Any]:
    """What an inbound message refreshes: every id and name it carries, the channel the
    customer wrote on (joining `channels` when its kind is known), the time."""
    fields: dict[str, Any] = {"updated_at": utcnow(), "channel_id": channel_id}
    for name, value in (
        ("bsuid", identity.bsuid),
        ("wa_id", identity.wa_id),
        ("phone", identity.phone),
        ("username", identity.username),
        ("name", identity.name),
    ):
        if value:
            fields[name] = value
    update: dict[str, Any] = {"$set": fields, "$max": {"last_inbound_at": at}}
    if channel_type is not None:
        channel = ContactChannel(channel_id=channel_id, channel_type=channel_type)
        update["$addToSet"] = _channels_added([channel])
    return update


def _identity_keys(channel_id: str | None, identity: ContactIdentity) -> list[dict[str, Any]]:
    """The filters that find a customer, in order: their user id on the channel (any
    channel when none is named), else their number anywhere in the tenant."""
    keys: list[dict[str, Any]] = []
    if identity.bsuid:
        on = {"channel_id": channel_id} if channel_id else {}
        keys.append(tenant_first(**on, bsuid=identity.bsuid))
    if identity.phone:
        keys.append(tenant_first(phone=identity.phone))
    return keys


def _merged(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    """One filter holding every condition: a plain dict when no two name the same key
    (SecantusDB plans those best), else `$and`."""
    merged: dict[str, Any] = {}
    for condition in conditions:
        if merged.keys() & condition.keys():
            return {"$and": conditions}
        merged.update(condition)
    return merged


def _segment_conditions(segment: SegmentFilter) -> list[dict[str, Any]]:
    conditions: list[dict[str, Any]] = []
    if segment.tags_any:
        conditions.append({"tags": {"$in": list(segment.tags_any)}})
    if segment.tags_all:
        conditions.append({"tags": {"$all": list(segment.tags_all)}})
    for key, value in segment.attributes.items():  # keys are checked: [A-Za-z_][A-Za-z0-9_]*
        conditions.append({f"attributes.{key}": value})
    if segment.language is not None:
        conditions.append({"language": segment.language})
    if segment.opted_out is not None:
        conditions.append({"opted_out": segment.opted_out})
    if segment.created_after is not None:
        conditions.append({"created_at": {"$gt": segment.created_after}})
    if segment.last_inbound_after is not None:
        conditions.append({"last_inbound_at": {"$gt": segment.last_inbound_after}})
    return conditions


def contact_filter(query: ContactQuery) -> dict[str, Any]:
    """The MongoDB filter of a list query or a segment: live contacts only."""
    conditions: list[dict[str, Any]] = [dict(_LIVE)]
    if query.q:
        text = {"$regex": re.escape(query.q), "$options": "i"}
        anywhere: list[dict[str, Any]] = [{"name": text}, {"email": text}]
        digits = re.sub(r"\D", "", query.q)
        if len(digits) >= 3:
            anywhere.append({"phone": {"$regex": re.escape(digits)}})
        conditions.append({"$or": anywhere})
    if query.tag is not None:
        conditions.append({"tags": query.tag})
    if query.opted_out is not None:
        conditions.append({"opted_out": query.opted_out})
    if query.channel_type is not None:
        conditions.append({"channel_types": query.channel_type.value})
    if query.segment is not None:
        conditions.extend(_segment_conditions(query.segment))
    return _merged(conditions)


class BeanieContactRepository:
    """`ContactRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(ContactDocument)

    async def upsert_inbound(
        self,
        channel_id: str,
        identity: ContactIdentity,
        at: datetime,
        *,
        channel_type: ChannelType | None = None,
    ) -> Contact:
        if not (identity.bsuid or identity.wa_id):
            raise ValueError("an inbound contact needs a bsuid or a wa_id")
        update = _refresh(channel_id, identity, at, channel_type)
        # Known by the user id, else by the number (a contact from before user ids,
        # created by hand, imported, or met on another channel): it gains the user id.
        for _ in range(2):
            for key in _identity_keys(channel_id, identity):
                if await self._scoped.apply_where(key, update):
                    return await self._first(key)
            ids = (("bsuid", identity.bsuid), ("wa_id", identity.wa_id))
            field, value = next((f, v) for f, v in ids if v)
            insert = {
                **update,
                "$setOnInsert": {
                    "source": ContactSource.INBOUND.value, "created_at": utcnow(),
                    "attributes": {}, "tags": [], "opted_out": False,
                },
            }  # fmt: skip
            key = tenant_first(channel_id=channel_id, **{field: value})
            try:
                await self._scoped.upsert(key, insert)
            except Conflict:
                continue  # the number became another contact's meanwhile: it matches now
            return await self._first(key)
        raise Conflict("The customer's number belongs to a contact being changed; retry.")

    async def upsert_inbound_by_id(
        self,
        contact_id: str,
        channel_id: str,
        identity: ContactIdentity,
        at: datetime,
        *,
        channel_type: ChannelType | None = None,
    ) -> Contact | None:
        return await self._upsert_by_id(
            contact_id, _refresh(channel_id, identity, at, channel_type), ContactSource.INBOUND
        )

    async def ensure_by_id(
        self,
        contact_id: str,
        channel_id: str,
        *,
        source: ContactSource = ContactSource.API,
    ) -> Contact | None:
        now = utcnow()
        return await self._upsert_by_id(
            contact_id, {}, source, channel_id=channel_id, updated_at=now
        )

    async def _upsert_by_id(
        self, contact_id: str, update: dict[str, Any], source: ContactSource, **inserted: Any
    ) -> Contact | None:
        """`update` on the live contact with this id, or the contact created with it (and
        `inserted`); None when that contact was deleted."""
        oid = to_object_id(contact_id)
        if oid is None:
            raise ValueError("a contact id allocated by the identity store is an ObjectId")
        update = {
            **update,
            "$setOnInsert": {
                "source": source.value, "created_at": utcnow(),
                "attributes": {}, "tags": [], "opted_out": False, **inserted,
            },
        }  # fmt: skip
        try:  # a deleted contact keeps its id: the insert the upsert tries is refused
            await self._scoped.upsert({"_id": oid, **_LIVE}, update)
        except Conflict:
            return None
        found = await self.get(contact_id)
        return found if found is not None and found.deleted_at is None else None

    async def change_identity(
        self,
        channel_id: str,
        *,
        bsuid: str | None,
        wa_id: str | None,
        new_bsuid: str | None = None,
        new_wa_id: str | None = None,
    ) -> Contact | None:
        changes: dict[str, Any] = {"updated_at": utcnow()}
        former: dict[str, str] = {}  # what the change replaces: kept, for the erasure
        if new_bsuid:
            changes["bsuid"] = new_bsuid
            if bsuid and bsuid != new_bsuid:
                former[f"{FORMER_IDS}.bsuid"] = bsuid
        if new_wa_id:
            changes.update(wa_id=new_wa_id, phone=f"+{new_wa_id}")
            if wa_id and wa_id != new_wa_id:
                former[f"{FORMER_IDS}.wa_id"] = wa_id
        update: dict[str, Any] = {"$set": changes}
        if former:
            update["$addToSet"] = former
        for field, value in (("bsuid", bsuid), ("wa_id", wa_id)):
            if value and await self._scoped.apply_where(
                {"channel_id": channel_id, field: value}, update
            ):
                key = new_bsuid if field == "bsuid" and new_bsuid else value
                key = new_wa_id if field == "wa_id" and new_wa_id else key
                return await self._first({"channel_id": channel_id, field: key})
        return None

    async def get(self, contact_id: str) -> Contact | None:
        document = await self._scoped.get(contact_id)
        return document.to_entity() if document else None

    async def find(self, channel_id: str | None, identity: ContactIdentity) -> Contact | None:
        for key in _identity_keys(channel_id, identity):
            found = await self._scoped.find(key, limit=1)
            if found:
                return found[0].to_entity()
        return None

    async def ensure(
        self,
        channel_id: str,
        identity: ContactIdentity,
        *,
        source: ContactSource = ContactSource.API,
    ) -> Contact:
        for _ in range(2):
            existing = await self.find(channel_id, identity)
            if existing is not None:
                return existing
            field, value = (
                ("bsuid", identity.bsuid) if identity.bsuid else ("wa_id", identity.wa_id)
            )
            if not value:
                raise ValueError("a contact needs a bsuid or a wa_id")
            now = utcnow()
            ids = {"phone": identity.phone} if identity.phone else {}
            if identity.wa_id and field != "wa_id":
                ids["wa_id"] = identity.wa_id
            key = tenant_first(channel_id=channel_id, **{field: value})
            try:
                await self._scoped.upsert(key, {"$setOnInsert": {
                    **ids, "source": source.value, "created_at": now,
                    "updated_at": now, "attributes": {}, "tags": [], "opted_out": False,
                }})  # fmt: skip
            except Conflict:
                continue  # the number became another contact's meanwhile: found next time
            return await self._first(key)
        raise Conflict("The customer's number belongs to a contact being changed; retry.")

    async def by_phone(self, phone: str) -> Contact | None:
        found = await self._scoped.find(tenant_first(phone=phone), limit=1)
        return found[0].to_entity() if found else None

    async def create(self, contact: Contact) -> Contact:
        fields = contact.model_dump(exclude={"id", "tenant_id"})
        document = await self._scoped.insert(ContactDocument(**fields))
        return document.to_entity()

    async def update(self, contact_id: str, changes: dict[str, Any]) -> Contact | None:
        oid = to_object_id(contact_id)
        if oid is None:
            return None
        sets = {k: v for k, v in changes.items() if v is not None}
        unsets = {k: "" for k, v in changes.items() if v is None}
        update: dict[str, Any] = {"$set": {**sets, "updated_at": utcnow()}}
        if unsets:
            update["$unset"] = unsets
        if not await self._scoped.apply_where({"_id": oid, **_LIVE}, update):
            return None
        return await self.get(contact_id)

    async def soft_delete(self, contact_id: str, at: datetime) -> bool:
        document = await self._scoped.get(contact_id)
        if document is None or document.deleted_at is not None:
            return False
        released = {name: getattr(document, name) for name in _RELEASED}
        return await self._scoped.apply_where(
            {"_id": document.id, **_LIVE},
            {
                "$set": {"deleted_at": at, "updated_at": at, "deleted_identity": released},
                "$unset": dict.fromkeys(_RELEASED, ""),
            },
        )

    async def erase(self, contact_id: str, at: datetime) -> bool:
        oid = to_object_id(contact_id)
        if oid is None:
            return False
        gone = dict.fromkeys(_PERSONAL, "")
        return await self._scoped.apply_where(
            {"_id": oid, "erased_at": None},
            {
                "$set": {"attributes": {}, "tags": [], "deleted_at": at, "updated_at": at,
                         "erased_at": at},
                "$unset": gone,
            },
        )  # fmt: skip

    async def change_consent(self, contact_id: str, change: ConsentChange) -> Contact | None:
        oid = to_object_id(contact_id)
        if oid is None:
            return None
        if change.opted_out:
            fields = {"opted_out": True, "opted_out_at": change.at,
                      "opt_out_source": change.source.value}  # fmt: skip
        else:
            fields = {"opted_out": False, "opted_in_at": change.at,
                      "opt_in_source": change.source.value}  # fmt: skip
        update: dict[str, Any] = {"$set": {**fields, "updated_at": change.at}}
        if not change.opted_out:
            update["$unset"] = {"opted_out_at": "", "opt_out_source": ""}
        condition = {"_id": oid, **_LIVE, "opted_out": not change.opted_out}
        if not await self._scoped.apply_where(condition, update):
            return None
        return await self.get(contact_id)

    async def search(self, query: ContactQuery, *, cursor: str | None, limit: int) -> ContactPage:
        filter = _merged([contact_filter(query), after_cursor("created_at", cursor)])
        found = await self._scoped.find(filter, sort=_NEWEST, limit=limit + 1)
        items = [d.to_entity() for d in found[:limit]]
        last = found[limit - 1] if len(found) > limit else None
        next_cursor = encode_cursor(last.created_at, str(last.id)) if last else None
        return ContactPage(items=items, next_cursor=next_cursor)

    async def count(self, query: ContactQuery) -> int:
        return await self._scoped.count(contact_filter(query))

    async def attribute_keys(self, query: ContactQuery) -> list[str]:
        rows = await self._scoped.aggregate([
            {"$match": contact_filter(query)},
            {"$project": {"k": {"$objectToArray": {"$ifNull": ["$attributes", {}]}}}},
            {"$unwind": "$k"}, {"$group": {"_id": "$k.k"}}, {"$sort": {"_id": 1}},
        ])  # fmt: skip
        return [str(row["_id"]) for row in rows]

    async def batches(self, query: ContactQuery, *, size: int) -> AsyncIterator[list[Contact]]:
        async for found in self._scoped.batches(contact_filter(query), size=size):
            yield [document.to_entity() for document in found]

    async def consent_states(self, contact_ids: list[str]) -> dict[str, ConsentState]:
        oids = [oid for raw in contact_ids if (oid := to_object_id(raw)) is not None]
        if not oids:
            return {}
        # Two fields by `_id` with the driver: a campaign batch reads hundreds at once.
        filter = self._scoped.scope({"_id": {"$in": oids}})
        fields = {"opted_out": 1, "deleted_at": 1}
        with database_errors():
            cursor = ContactDocument.get_pymongo_collection().find(filter, fields)
            rows = [row async for row in cursor]
        return {
            str(row["_id"]): ConsentState(
                opted_out=bool(row.get("opted_out")), deleted=row.get("deleted_at") is not None
            )
            for row in rows
        }

    async def stats(self) -> ContactStats:
        live = {"$match": dict(_LIVE)}
        totals = await self._scoped.aggregate([
            live,
            {"$group": {"_id": None, "total": {"$sum": 1},
                        "opted_out": {"$sum": {"$cond": ["$opted_out", 1, 0]}}}},
        ])  # fmt: skip
        sources = await self._scoped.aggregate(
            [live, {"$group": {"_id": "$source", "n": {"$sum": 1}}}]
        )
        tags = await self._scoped.aggregate([
            live, {"$unwind": "$tags"}, {"$group": {"_id": "$tags", "n": {"$sum": 1}}},
            {"$sort": {"n": -1, "_id": 1}}, {"$limit": TOP_TAGS},
        ])  # fmt: skip
        first = totals[0] if totals else {"total": 0, "opted_out": 0}
        return ContactStats(
            total=first["total"],
            opted_out=first["opted_out"],
            by_source={str(row["_id"]): row["n"] for row in sources if row["_id"]},
            by_tag={str(row["_id"]): row["n"] for row in tags},
        )

    async def same_address(self, contact: Contact, *, limit: int) -> list[Contact]:
        keys: list[dict[str, Any]] = []
        if contact.phone:
            keys += [tenant_first(phone=contact.phone), tenant_first(wa_id=contact.phone[1:])]
        if contact.email:  # over the tenant's emails (`tenant_email`), any case
            pattern = {"$regex": f"^{re.escape(contact.email)}$", "$options": "i"}
            keys.append(tenant_first(email=pattern))
        found: dict[str, ContactDocument] = {}
        for key in keys:
            for document in await self._scoped.find({**key, **_LIVE}, limit=limit + 1):
                if str(document.id) != contact.id:
                    found.setdefault(str(document.id), document)
        newest = sorted(found.values(), key=lambda d: (d.created_at, str(d.id)), reverse=True)
        return [document.to_entity() for document in newest[:limit]]

    async def claim_merge(
        self, contact_id: str, *, token: str, until: datetime, into: str | None
    ) -> bool:
        oid = to_object_id(contact_id)
        if oid is None:
            return False
        merging = {"$in": [None, into]} if into else None
        condition: dict[str, Any] = {"_id": oid, **_LIVE, "merging_into": merging}
        fields = {"merge_lock": token, "merge_lock_until": until}
        # Free, or held by a merge whose hold ran out (it stopped half-way).
        for free in ({"merge_lock_until": None}, {"merge_lock_until": {"$lt": utcnow()}}):
            if await self._scoped.apply_where({**condition, **free}, {"$set": fields}):
                return True
        return False

    async def mark_merging(self, contact_id: str, into: str, token: str) -> bool:
        oid = to_object_id(contact_id)
        if oid is None:
            return False
        return await self._scoped.apply_where(
            {"_id": oid, "merge_lock": token}, {"$set": {"merging_into": into}}
        )

    async def release_merge(self, contact_id: str, token: str) -> None:
        oid = to_object_id(contact_id)
        if oid is not None:
            await self._scoped.apply_where(
                {"_id": oid, "merge_lock": token},
                {"$unset": {"merge_lock": "", "merge_lock_until": ""}},
            )

    async def past_identity(self, contact_id: str) -> dict[str, list[str]]:
        document = await self._scoped.get(contact_id)
        if document is None:
            return {}
        past = {field: list(values) for field, values in (document.former_ids or {}).items()}
        for field, value in _kept_aside(document).items():
            past.setdefault(field, []).append(value)
        return past

    async def merged_sources(self, contact_id: str) -> list[str]:
        found = await self._scoped.find({"merged_into": contact_id})
        return [str(document.id) for document in found]

    async def release_identity(self, contact_id: str) -> dict[str, str]:
        document = await self._scoped.get(contact_id)
        if document is None:
            return {}
        released: dict[str, Any] = _kept_aside(document)
        present = {name: value for name in _RELEASED if (value := getattr(document, name))}
        if present and document.deleted_at is None:
            released.update(present)
            await self._scoped.apply_where(
                {"_id": document.id, **_LIVE, **present},
                {"$set": {"deleted_identity": released, "updated_at": utcnow()},
                 "$unset": dict.fromkeys(present, "")},
            )  # fmt: skip
        return {name: str(value) for name, value in released.items()}

    async def add_channels(self, contact_id: str, channels: list[ContactChannel]) -> None:
        if channels:
            await self._scoped.apply(contact_id, {"$addToSet": _channels_added(channels)})

    async def finish_merge(self, contact_id: str, into: str, at: datetime) -> bool:
        oid = to_object_id(contact_id)
        if oid is None:
            return False
        return await self._scoped.apply_where(
            {"_id": oid, **_LIVE},
            {
                "$set": {"deleted_at": at, "updated_at": at, "merged_into": into},
                "$unset": {"merge_lock": "", "merge_lock_until": "", "merging_into": "",
                           **dict.fromkeys(_RELEASED, "")},
            },
        )  # fmt: skip

    async def _first(self, key: dict[str, Any]) -> Contact:
        found = await self._scoped.find(key, limit=1)
        return found[0].to_entity()
