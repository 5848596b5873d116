"""The fail-closed tenant-scoped repository against a real Mongo-wire server."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest
from beanie import SortDirection

from api.domain.errors import Conflict, TenantRequired
from api.domain.tenancy import TenantId, tenant_context
from tests.support import Note, NoteRepository

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
