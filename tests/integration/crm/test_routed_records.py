"""Which records are still routed to a department, read from the raw collections of
every context that routes them (conversations, leads, tickets, callback requests),
against a real Mongo-wire server: per tenant, per department, and whatever the caller's
department scope."""

from __future__ import annotations

from itertools import count

import pytest

from api.domain.departments import department_scope
from api.domain.errors import TenantRequired
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.crm.departments import DepartmentDocument
from api.infrastructure.persistence.crm.routed_records import (
    ROUTED_COLLECTIONS,
    CollectionRoutedRecords,
)

ACME, BETA = TenantId("a" * 24), TenantId("b" * 24)


NUMBERS = count(1)


async def route(collection: str, tenant_id: str, department_id: str | None) -> None:
    """A bare record of `collection` routed to `department_id` (a distinct `number`: the
    tickets' numbers are unique per tenant)."""
    database = DepartmentDocument.get_pymongo_collection().database
    await database[collection].insert_one(
        {"tenant_id": tenant_id, "department_id": department_id, "number": next(NUMBERS)}
    )


async def test_each_kind_of_routed_record_is_named() -> None:
    records = CollectionRoutedRecords()
    with tenant_context(ACME):
        assert await records.kinds_routed_to("sales") == []
    for kind, collection in ROUTED_COLLECTIONS.items():
        await route(collection, ACME, "sales")
        await route(collection, ACME, "sales")
        with tenant_context(ACME):
            found = await records.kinds_routed_to("sales")
        assert found[-1] == kind
    with tenant_context(ACME):
        assert await records.kinds_routed_to("sales") == [
            "conversations", "leads", "tickets", "callback_requests",
        ]  # fmt: skip
        with department_scope(["support"]):  # a limited caller still learns of them all
            assert len(await records.kinds_routed_to("sales")) == 4


async def test_only_the_tenants_records_of_that_department_count() -> None:
    records = CollectionRoutedRecords()
    await route("crm_tickets", BETA, "sales")  # another tenant's
    await route("crm_leads", ACME, "support")  # another department
    await route("conversations", ACME, None)  # routed nowhere
    with tenant_context(ACME):
        assert await records.kinds_routed_to("sales") == []
        assert await records.kinds_routed_to("support") == ["leads"]
    with tenant_context(BETA):
        assert await records.kinds_routed_to("sales") == ["tickets"]
    with pytest.raises(TenantRequired):
        await records.kinds_routed_to("sales")
