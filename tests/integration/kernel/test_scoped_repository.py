"""The fail-closed tenant-scoped repository against a real Mongo-wire server."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from beanie import SortDirection

from api.domain.errors import Conflict, TenantRequired
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.base.writes import (
    BulkOutcome,
    DeleteOp,
    InsertOp,
    UpdateOp,
    WriteOp,
)
from tests.support.database import Note, NoteRepository

TENANT_A = TenantId("a" * 24)
TENANT_B = TenantId("b" * 24)


@pytest.fixture
def notes() -> NoteRepository:
    return NoteRepository()


async def test_every_operation_without_a_tenant_raises(notes: NoteRepository) -> None:
    with tenant_context(TENANT_A):
        stored = await notes.insert(Note(title="kept"))
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: notes.get(str(stored.id)),
        lambda: notes.find(),
        lambda: notes.count(),
        lambda: notes.insert(Note(title="x")),
        lambda: notes.update(str(stored.id), {"title": "y"}),
        lambda: notes.delete(str(stored.id)),
        lambda: notes.delete_many(),
        lambda: notes.aggregate([]),
    ]
    for call in calls:
        with pytest.raises(TenantRequired):
            await call()
    # Nothing was changed by the refused calls.
    assert await Note.find_all().count() == 1
    assert (await Note.find_one({"_id": stored.id})).title == "kept"  # type: ignore[union-attr]


async def test_insert_stamps_the_current_tenant(notes: NoteRepository) -> None:
    with tenant_context(TENANT_A):
        note = await notes.insert(Note(title="hello"))
    raw = await Note.get_pymongo_collection().find_one({"_id": note.id})
    assert raw is not None and raw["tenant_id"] == TENANT_A


async def test_insert_for_another_tenant_is_refused(notes: NoteRepository) -> None:
    with tenant_context(TENANT_A), pytest.raises(ValueError, match="another tenant"):
        await notes.insert(Note(title="smuggled", tenant_id=TENANT_B))
    assert await Note.find_all().count() == 0


async def test_other_tenants_documents_are_invisible(notes: NoteRepository) -> None:
    with tenant_context(TENANT_A):
        mine = await notes.insert(Note(title="a-note"))
    with tenant_context(TENANT_B):
        theirs = await notes.insert(Note(title="b-note"))
        assert await notes.get(str(mine.id)) is None
        assert [n.title for n in await notes.find()] == ["b-note"]
        assert await notes.count() == 1
        assert await notes.update(str(mine.id), {"title": "hijacked"}) is None
        assert await notes.delete(str(mine.id)) is False
        assert await notes.delete_many({}) == 1
        assert await notes.find() == []
    with tenant_context(TENANT_A):
        kept = await notes.get(str(mine.id))
        assert kept is not None and kept.title == "a-note"
        assert await notes.get(str(theirs.id)) is None


async def test_a_filter_cannot_name_another_tenant(notes: NoteRepository) -> None:
    with tenant_context(TENANT_A), pytest.raises(ValueError, match="another tenant"):
        await notes.find({"tenant_id": TENANT_B})


async def test_update_cannot_move_a_document_to_another_tenant(notes: NoteRepository) -> None:
    with tenant_context(TENANT_A):
        note = await notes.insert(Note(title="stay"))
        with pytest.raises(ValueError, match="cannot be changed"):
            await notes.update(str(note.id), {"tenant_id": TENANT_B})
        updated = await notes.update(str(note.id), {"body": "edited"})
    assert updated is not None and updated.body == "edited" and updated.tenant_id == TENANT_A


async def test_unique_index_is_per_tenant_and_maps_to_conflict(notes: NoteRepository) -> None:
    with tenant_context(TENANT_A):
        await notes.insert(Note(title="same"))
        with pytest.raises(Conflict):
            await notes.insert(Note(title="same"))
    with tenant_context(TENANT_B):
        await notes.insert(Note(title="same"))  # another tenant may reuse the title


async def test_malformed_ids_are_simply_not_found(notes: NoteRepository) -> None:
    with tenant_context(TENANT_A):
        assert await notes.get("not-an-object-id") is None
        assert await notes.delete("zzz") is False
        assert await notes.update("zzz", {"body": "x"}) is None


async def test_aggregate_starts_with_the_tenant_match(notes: NoteRepository) -> None:
    for tenant, count in ((TENANT_A, 3), (TENANT_B, 2)):
        with tenant_context(tenant):
            for i in range(count):
                await notes.insert(Note(title=f"n{i}"))
    with tenant_context(TENANT_A):
        rows = await notes.aggregate([{"$group": {"_id": "$tenant_id", "n": {"$sum": 1}}}])
        assert rows == [{"_id": TENANT_A, "n": 3}]
        with pytest.raises(ValueError, match=r"\$lookup"):
            await notes.aggregate([{"$lookup": {"from": "tenants", "as": "x", "pipeline": []}}])


async def test_a_leading_match_is_scoped_in_place(notes: NoteRepository) -> None:
    for tenant, votes in ((TENANT_A, (1, 5, 9)), (TENANT_B, (5, 9))):
        with tenant_context(tenant):
            for i, vote in enumerate(votes):
                await notes.insert(Note(title=f"n{i}", votes=vote))
    with tenant_context(TENANT_A):
        rows = await notes.aggregate(
            [{"$match": {"votes": {"$gte": 5}}}, {"$group": {"_id": None, "n": {"$sum": 1}}}]
        )
        assert rows == [{"_id": None, "n": 2}]
        with pytest.raises(ValueError, match="another tenant"):
            await notes.aggregate([{"$match": {"tenant_id": TENANT_B}}])


async def test_sort_skip_limit(notes: NoteRepository) -> None:
    with tenant_context(TENANT_A):
        for i in range(5):
            await notes.insert(Note(title=f"t{i}"))
        page = await notes.find(sort=[("title", SortDirection.DESCENDING)], skip=1, limit=2)
    assert [n.title for n in page] == ["t3", "t2"]


async def test_concurrent_work_for_two_tenants_never_mixes(notes: NoteRepository) -> None:
    """Many interleaved tasks, each in its own tenant context, on one event loop."""

    async def work(tenant: TenantId, i: int) -> tuple[TenantId, list[str]]:
        with tenant_context(tenant):
            await asyncio.sleep(random.random() / 100)
            await notes.insert(Note(title=f"{tenant[:1]}-{i}"))
            await asyncio.sleep(random.random() / 100)
            return tenant, [n.tenant_id for n in await notes.find()]

    jobs = [work(TENANT_A if i % 2 else TENANT_B, i) for i in range(60)]
    for tenant, seen in await asyncio.gather(*jobs):
        assert seen and set(seen) == {tenant}
    with tenant_context(TENANT_A):
        titles = {n.title for n in await notes.find()}
    assert titles == {f"a-{i}" for i in range(1, 60, 2)}


def test_scope_puts_id_first_for_the_planner(notes: NoteRepository) -> None:
    with tenant_context(TENANT_A):
        assert list(notes.scope({"title": "x", "_id": "i"})) == ["_id", "title", "tenant_id"]
        assert notes.scope({"title": "x"}) == {"title": "x", "tenant_id": TENANT_A}


# -- the verbs for many documents: update_many, upsert, increment, bulk_write, batches -----


async def _seed(notes: NoteRepository, tenant: TenantId, *titles: str) -> list[Note]:
    with tenant_context(tenant):
        return [await notes.insert(Note(title=title)) for title in titles]


async def _raw(title: str, tenant: TenantId) -> dict[str, Any] | None:
    found: dict[str, Any] | None = await Note.get_pymongo_collection().find_one(
        {"tenant_id": tenant, "title": title}
    )
    return found


def _new_verbs(notes: NoteRepository, tenant: TenantId) -> list[Callable[[], Awaitable[object]]]:
    """One call of every new verb whose filter names `tenant`."""
    named = {"tenant_id": tenant}
    return [
        lambda: notes.update_many(named, {"$set": {"body": "x"}}),
        lambda: notes.upsert(named | {"title": "up"}, {"$set": {"body": "x"}}),
        lambda: notes.increment(named | {"title": "up"}, {"votes": 1}, upsert=True),
        lambda: notes.bulk_write([DeleteOp(named, many=True)]),
        lambda: notes.bulk_write([UpdateOp(named, {"$set": {"body": "x"}}, many=True)]),
        lambda: anext(notes.batches(named), None),
    ]


async def test_every_new_verb_without_a_tenant_raises(notes: NoteRepository) -> None:
    (kept,) = await _seed(notes, TENANT_A, "kept")
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: notes.update_many({}, {"$set": {"body": "x"}}),
        lambda: notes.upsert({"title": "kept"}, {"$set": {"body": "x"}}),
        lambda: notes.increment({"title": "kept"}, {"votes": 1}),
        lambda: notes.increment({"title": "new"}, {"votes": 1}, upsert=True),
        lambda: notes.bulk_write([InsertOp(Note(title="x"))]),
        lambda: notes.bulk_write([DeleteOp({}, many=True)]),
        lambda: notes.bulk_write([]),
    ]
    for call in calls:
        with pytest.raises(TenantRequired):
            await call()
    with pytest.raises(TenantRequired):
        notes.batches()  # refused at the call, before the first batch is asked for
    assert await Note.find_all().count() == 1
    raw = await _raw("kept", TENANT_A)
    assert raw is not None and raw["_id"] == kept.id and raw["body"] == "" and raw["votes"] == 0


async def test_a_new_verb_cannot_name_another_tenant(notes: NoteRepository) -> None:
    await _seed(notes, TENANT_B, "theirs")
    for call in _new_verbs(notes, TENANT_B):
        with tenant_context(TENANT_A), pytest.raises(ValueError, match="another tenant"):
            await call()
    # Naming its own tenant is allowed (and changes nothing of B's).
    with tenant_context(TENANT_A):
        for call in _new_verbs(notes, TENANT_A):
            await call()
    raw = await _raw("theirs", TENANT_B)
    assert raw is not None and raw["body"] == "" and raw["votes"] == 0
    assert await Note.find({"tenant_id": TENANT_B}).count() == 1


async def test_no_new_verb_can_change_tenant_id_or_id(notes: NoteRepository) -> None:
    await _seed(notes, TENANT_A, "stay")
    moves: list[Callable[[], Awaitable[object]]] = [
        lambda: notes.update_many({}, {"$set": {"tenant_id": TENANT_B}}),
        lambda: notes.update_many({}, {"$rename": {"body": "tenant_id"}}),
        lambda: notes.upsert({"title": "new"}, {"$setOnInsert": {"tenant_id": TENANT_B}}),
        lambda: notes.increment({"title": "stay"}, {"_id": 1}),
        lambda: notes.bulk_write([UpdateOp({}, {"$set": {"tenant_id": TENANT_B}})]),
    ]
    with tenant_context(TENANT_A):
        for call in moves:
            with pytest.raises(ValueError, match="cannot be changed"):
                await call()
        assert [n.title for n in await notes.find()] == ["stay"]


async def test_update_many_changes_every_match_of_this_tenant_only(notes: NoteRepository) -> None:
    await _seed(notes, TENANT_A, "a1", "a2", "a3")
    await _seed(notes, TENANT_B, "a1", "b2")
    with tenant_context(TENANT_A):
        assert (
            await notes.update_many({"title": {"$in": ["a1", "a2"]}}, {"$set": {"body": "x"}}) == 2
        )
        assert await notes.update_many(None, {"$inc": {"votes": 2}}) == 3
        assert await notes.update_many({"title": "none"}, {"$set": {"body": "y"}}) == 0
        mine = {n.title: (n.body, n.votes) for n in await notes.find()}
    assert mine == {"a1": ("x", 2), "a2": ("x", 2), "a3": ("", 2)}
    with tenant_context(TENANT_B):
        assert {(n.title, n.body, n.votes) for n in await notes.find()} == {
            ("a1", "", 0),
            ("b2", "", 0),
        }


async def test_update_many_refused_by_a_unique_index_is_conflict(notes: NoteRepository) -> None:
    await _seed(notes, TENANT_A, "one", "two")
    with tenant_context(TENANT_A), pytest.raises(Conflict):
        await notes.update_many({}, {"$set": {"title": "same"}})


async def test_upsert_inserts_once_then_updates(notes: NoteRepository) -> None:
    with tenant_context(TENANT_A):
        assert await notes.upsert({"title": "cfg"}, {"$set": {"body": "v1"}}) is True
        assert await notes.upsert({"title": "cfg"}, {"$set": {"body": "v2"}}) is False
        assert [(n.title, n.body) for n in await notes.find()] == [("cfg", "v2")]


async def test_upsert_stamps_the_tenant_and_leaves_other_tenants(notes: NoteRepository) -> None:
    await _seed(notes, TENANT_B, "cfg")
    with tenant_context(TENANT_A):
        assert await notes.upsert({"title": "cfg"}, {"$set": {"body": "mine"}}) is True
    raw = await _raw("cfg", TENANT_A)
    assert raw is not None and raw["tenant_id"] == TENANT_A and raw["body"] == "mine"
    theirs = await _raw("cfg", TENANT_B)
    assert theirs is not None and theirs["body"] == ""
    with tenant_context(TENANT_A):  # an empty filter: the tenant's one document
        assert await notes.upsert({}, {"$set": {"body": "again"}}) is False
    raw = await _raw("cfg", TENANT_A)
    assert raw is not None and raw["body"] == "again"


async def test_increment_adds_atomically_under_concurrency(notes: NoteRepository) -> None:
    await _seed(notes, TENANT_A, "hot")
    await _seed(notes, TENANT_B, "hot")

    async def vote() -> bool:
        with tenant_context(TENANT_A):
            return await notes.increment({"title": "hot"}, {"votes": 1})

    assert all(await asyncio.gather(*(vote() for _ in range(20))))
    assert (await _raw("hot", TENANT_A) or {})["votes"] == 20
    assert (await _raw("hot", TENANT_B) or {})["votes"] == 0


async def test_increment_without_upsert_creates_nothing(notes: NoteRepository) -> None:
    await _seed(notes, TENANT_B, "only-b")
    with tenant_context(TENANT_A):
        assert await notes.increment({"title": "only-b"}, {"votes": 1}) is False
        assert await notes.count() == 0
    assert (await _raw("only-b", TENANT_B) or {})["votes"] == 0


async def test_increment_with_upsert_stamps_the_tenant_once(notes: NoteRepository) -> None:
    async def first_use() -> bool:
        with tenant_context(TENANT_A):
            return await notes.increment({"title": "day"}, {"votes": 2}, upsert=True)

    assert all(await asyncio.gather(*(first_use() for _ in range(10))))
    raws = await Note.get_pymongo_collection().find({"title": "day"}).to_list()
    assert [(r["tenant_id"], r["votes"]) for r in raws] == [(TENANT_A, 20)]


async def test_bulk_write_scopes_every_operation(notes: NoteRepository) -> None:
    await _seed(notes, TENANT_A, "edit", "drop", "keep")
    await _seed(notes, TENANT_B, "edit", "drop", "keep")
    fresh = Note(title="fresh")
    with tenant_context(TENANT_A):
        outcome = await notes.bulk_write(
            [
                InsertOp(fresh),
                UpdateOp({"title": "edit"}, {"$set": {"body": "edited"}}),
                UpdateOp({}, {"$inc": {"votes": 1}}, many=True),
                UpdateOp({"title": "made"}, {"$set": {"body": "new"}}, upsert=True),
                DeleteOp({"title": "drop"}),
            ]
        )
        assert outcome == BulkOutcome(inserted=1, matched=5, modified=5, upserted=1, deleted=1)
        assert fresh.id is not None and fresh.tenant_id == TENANT_A
        mine = {n.title: (n.body, n.votes) for n in await notes.find()}
    assert mine == {
        "edit": ("edited", 1),
        "keep": ("", 1),
        "fresh": ("", 1),
        "made": ("new", 0),
    }
    with tenant_context(TENANT_B):
        assert {(n.title, n.body, n.votes) for n in await notes.find()} == {
            ("edit", "", 0),
            ("drop", "", 0),
            ("keep", "", 0),
        }
        assert await notes.bulk_write([DeleteOp({}, many=True)]) == BulkOutcome(deleted=3)
    with tenant_context(TENANT_A):
        assert await notes.count() == 4


async def test_bulk_write_stamps_inserts_and_upserts(notes: NoteRepository) -> None:
    with tenant_context(TENANT_A):
        await notes.bulk_write(
            [
                InsertOp(Note(title="inserted")),
                UpdateOp({"title": "upserted"}, {"$inc": {"votes": 1}}, upsert=True),
            ]
        )
    for title in ("inserted", "upserted"):
        raw = await _raw(title, TENANT_A)
        assert raw is not None and raw["tenant_id"] == TENANT_A


async def test_bulk_write_refuses_everything_when_one_operation_is_refused(
    notes: NoteRepository,
) -> None:
    refused: list[list[WriteOp]] = [
        [InsertOp(Note(title="ok")), InsertOp(Note(title="smuggled", tenant_id=TENANT_B))],
        [InsertOp(Note(title="ok")), DeleteOp({"tenant_id": TENANT_B}, many=True)],
    ]
    with tenant_context(TENANT_A):
        for operations in refused:
            with pytest.raises(ValueError, match="another tenant"):
                await notes.bulk_write(operations)
    assert await Note.find_all().count() == 0


async def test_bulk_write_refused_by_a_unique_index_is_conflict(notes: NoteRepository) -> None:
    await _seed(notes, TENANT_A, "taken")
    with tenant_context(TENANT_A):
        with pytest.raises(Conflict):
            await notes.bulk_write([InsertOp(Note(title="before")), InsertOp(Note(title="taken"))])
        # Ordered: the write before the refused one stays done.
        assert sorted(n.title for n in await notes.find()) == ["before", "taken"]


async def test_batches_yield_this_tenants_matches_in_id_order(notes: NoteRepository) -> None:
    mine = await _seed(notes, TENANT_A, *(f"a{i}" for i in range(7)))
    await _seed(notes, TENANT_B, *(f"b{i}" for i in range(4)))
    with tenant_context(TENANT_A):
        batches = [batch async for batch in notes.batches(size=3)]
        assert [len(b) for b in batches] == [3, 3, 1]
        assert [n.id for b in batches for n in b] == [n.id for n in mine]
        picked = await _all(notes.batches({"title": {"$in": ["a1", "a3"]}}))
        assert [[n.title for n in b] for b in picked] == [["a1", "a3"]]
        assert [len(b) for b in await _all(notes.batches(size=7))] == [7]  # no empty batch
        assert await _all(notes.batches({"title": "b0"})) == []


async def test_batches_see_each_document_once_while_the_caller_writes(
    notes: NoteRepository,
) -> None:
    await _seed(notes, TENANT_A, *(f"n{i}" for i in range(5)))
    seen: list[str] = []
    with tenant_context(TENANT_A):
        async for batch in notes.batches({"votes": 0}, size=2):
            titles = [n.title for n in batch]
            seen += titles
            await notes.update_many({"title": {"$in": titles}}, {"$inc": {"votes": 1}})
            if len(seen) == 2:
                await notes.insert(Note(title="late"))  # after the last _id: seen too
    assert seen == ["n0", "n1", "n2", "n3", "n4", "late"]


def test_batches_refuse_a_filter_on_id_and_an_empty_size(notes: NoteRepository) -> None:
    with tenant_context(TENANT_A):
        with pytest.raises(ValueError, match="_id"):
            notes.batches({"_id": "x"})
        with pytest.raises(ValueError, match="at least one"):
            notes.batches(size=0)


async def _all(batches: AsyncIterator[list[Note]]) -> list[list[Note]]:
    return [batch async for batch in batches]
