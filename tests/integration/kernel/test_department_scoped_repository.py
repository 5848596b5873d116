"""The department-scoped repository against a real Mongo-wire server: a limited scope
narrows every verb, an unlimited one narrows nothing."""

from __future__ import annotations

import pytest

from api.domain.departments import department_scope
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.base.writes import DeleteOp, InsertOp, UpdateOp
from tests.support.database import RoutedNote, RoutedNoteRepository

TENANT = TenantId("c" * 24)
SALES, SUPPORT = "sales-dept", "support-dept"


@pytest.fixture
async def notes() -> RoutedNoteRepository:
    repository = RoutedNoteRepository()
    with tenant_context(TENANT):
        for title, department in (("s1", SALES), ("s2", SALES), ("h1", SUPPORT), ("n1", None)):
            await repository.insert(RoutedNote(title=title, department_id=department))
    return repository


def titles(found: list[RoutedNote]) -> list[str]:
    return sorted(n.title for n in found)


async def test_unlimited_work_sees_every_department(notes: RoutedNoteRepository) -> None:
    with tenant_context(TENANT):
        assert titles(await notes.find()) == ["h1", "n1", "s1", "s2"]
        assert titles(await notes.find({"department_id": SUPPORT})) == ["h1"]


async def test_reads_are_narrowed_to_the_scope(notes: RoutedNoteRepository) -> None:
    with tenant_context(TENANT):
        support = (await notes.find({"department_id": SUPPORT}))[0]
        with department_scope([SALES]):
            assert titles(await notes.find()) == ["s1", "s2"]
            assert await notes.count() == 2
            assert await notes.find({"department_id": SUPPORT}) == []
            assert await notes.get(str(support.id)) is None
            assert [n.title async for batch in notes.batches() for n in batch] == ["s1", "s2"]
            rows = await notes.aggregate([{"$group": {"_id": "$department_id", "n": {"$sum": 1}}}])
            assert rows == [{"_id": SALES, "n": 2}]
        with department_scope([]):
            assert await notes.find() == [] and await notes.count() == 0


async def test_writes_outside_the_scope_change_nothing(notes: RoutedNoteRepository) -> None:
    with tenant_context(TENANT):
        support = (await notes.find({"department_id": SUPPORT}))[0]
        unrouted = (await notes.find({"department_id": None}))[0]
        with department_scope([SALES]):
            assert await notes.update(str(support.id), {"votes": 5}) is None
            assert await notes.apply(str(unrouted.id), {"$inc": {"votes": 1}}) is False
            assert await notes.update_many(None, {"$inc": {"votes": 1}}) == 2
            assert await notes.delete(str(support.id)) is False
            with pytest.raises(ValueError, match="department scope"):
                await notes.insert(RoutedNote(title="h2", department_id=SUPPORT))
            with pytest.raises(ValueError, match="department scope"):
                await notes.insert(RoutedNote(title="n2"))
            outcome = await notes.bulk_write(
                [
                    UpdateOp({"_id": support.id}, {"$set": {"title": "stolen"}}),
                    DeleteOp({"_id": unrouted.id}),
                ]
            )
            assert outcome.matched == 0 and outcome.deleted == 0
            with pytest.raises(ValueError, match="department scope"):
                await notes.bulk_write([InsertOp(RoutedNote(title="h3", department_id=SUPPORT))])
            assert await notes.delete_many() == 2
        left = {n.title: n.votes for n in await notes.find()}
        assert left == {"h1": 0, "n1": 0}
