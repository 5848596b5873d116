"""Callback requests against the real Mongo-wire server: tenant and department scoping of
every verb, conditional moves (one winner under concurrency), cursor paging with filters
that neither repeats nor skips."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from api.domain.crm.callbacks import OPEN, CallbackFilter, CallbackRequest, CallbackStatus
from api.domain.departments import department_scope
from api.domain.errors import InvalidInput, TenantRequired
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.crm.callbacks import BeanieCallbackRequestRepository

TENANT_A = TenantId("a" * 24)
TENANT_B = TenantId("b" * 24)
NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def request(n: int = 0, department_id: str | None = None) -> CallbackRequest:
    at = NOW + timedelta(minutes=n)
    return CallbackRequest(name=f"Caller {n}", phone="+4915112345678",
                           department_id=department_id, created_at=at, updated_at=at)  # fmt: skip


async def test_tenants_never_see_each_other() -> None:
    repo = BeanieCallbackRequestRepository()
    with tenant_context(TENANT_A):
        mine = await repo.add(request())
        assert mine.id and mine.tenant_id == TENANT_A
    with tenant_context(TENANT_B):
        assert await repo.get(mine.id) is None
        assert await repo.move(mine.id, OPEN, {"status": CallbackStatus.CANCELLED}) is None
        assert (await repo.page(CallbackFilter(), cursor=None, limit=10)).items == []
    with tenant_context(TENANT_A):
        got = await repo.get(mine.id)
        assert got is not None and got.status is CallbackStatus.NEW
        assert await repo.get("not-an-id") is None
    with pytest.raises(TenantRequired):
        await repo.get(mine.id)


async def test_the_department_scope_limits_every_verb() -> None:
    repo = BeanieCallbackRequestRepository()
    with tenant_context(TENANT_A):
        sales = await repo.add(request(1, "sales"))
        support = await repo.add(request(2, "support"))
        nowhere = await repo.add(request(3))
        with department_scope(["sales"]):
            assert await repo.get(sales.id or "") is not None
            assert await repo.get(support.id or "") is None
            assert await repo.get(nowhere.id or "") is None  # no department: unlimited only
            page = await repo.page(CallbackFilter(), cursor=None, limit=10)
            assert [r.id for r in page.items] == [sales.id]
            asked = await repo.page(CallbackFilter(department_id="support"), cursor=None, limit=10)
            assert asked.items == []  # an explicit filter is intersected with the scope
            cancel: dict[str, object] = {"status": CallbackStatus.CANCELLED}
            assert await repo.move(support.id or "", OPEN, cancel) is None
            with pytest.raises(ValueError, match="outside the department scope"):
                await repo.add(request(4, "support"))
        with department_scope(None):
            page = await repo.page(CallbackFilter(), cursor=None, limit=10)
            assert len(page.items) == 3
            assert (await repo.get(support.id or "")).status is CallbackStatus.NEW  # type: ignore[union-attr]


async def test_one_of_two_racing_moves_wins() -> None:
    repo = BeanieCallbackRequestRepository()
    with tenant_context(TENANT_A):
        stored = await repo.add(request())
        request_id = stored.id or ""
        results = await asyncio.gather(
            repo.move(request_id, OPEN, {"status": CallbackStatus.COMPLETED, "outcome": "a"}),
            repo.move(request_id, OPEN, {"status": CallbackStatus.CANCELLED}),
        )
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        final = await repo.get(request_id)
        assert final is not None and final.status is winners[0].status
        assert await repo.move(request_id, OPEN, {"status": CallbackStatus.ASSIGNED}) is None


async def test_pages_newest_first_with_filters_by_cursor() -> None:
    repo = BeanieCallbackRequestRepository()
    with tenant_context(TENANT_A):
        ids = [(await repo.add(request(n % 4, "sales" if n % 2 else None))).id for n in range(9)]
        await repo.move(ids[0] or "", OPEN, {"status": CallbackStatus.ASSIGNED,
                                             "assignee_id": "u1"})  # fmt: skip
        seen: list[str] = []
        cursor = None
        while True:
            page = await repo.page(CallbackFilter(), cursor=cursor, limit=2)
            seen.extend(r.id or "" for r in page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert sorted(seen) == sorted(i or "" for i in ids) and len(seen) == 9
        stamps = [(await repo.get(i)).created_at for i in seen]  # type: ignore[union-attr]
        assert stamps == sorted(stamps, reverse=True)
        sales = await repo.page(CallbackFilter(department_id="sales"), cursor=None, limit=10)
        assert len(sales.items) == 4
        mine = await repo.page(
            CallbackFilter(status=CallbackStatus.ASSIGNED, assignee_id="u1"), cursor=None, limit=10
        )
        assert [r.id for r in mine.items] == [ids[0]]
        with pytest.raises(InvalidInput):
            await repo.page(CallbackFilter(), cursor="garbage!", limit=2)
