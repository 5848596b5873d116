"""The CRM part of `GET /api/v1/analytics/dashboard`: the lead pipeline now (by stage, its
value per currency), ticket SLA breaches (open now; in the window) and the meetings' show
rate, on a known dataset of two tenants; a reader limited to departments counts only
theirs; another tenant's records never count."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.common.clock import utcnow
from api.domain.departments import Department
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.base.mongo import MongoClient
from api.infrastructure.persistence.crm.departments import BeanieDepartmentRepository
from tests.support.analytics import SINCE, UNTIL, utc
from tests.support.app import AppClient
from tests.support.onboarding import login
from tests.support.people import MEMBER_PASSWORD, ROLES, add_user, bearer, two_tenants

DASHBOARD = "/api/v1/analytics/dashboard"
WINDOW = {"since": SINCE + "Z", "until": UNTIL + "Z"}  # 2026-05-01 to 2026-05-04, UTC


def lead(tenant: str, stage: str, value: int | None, currency: str | None, dept: str) -> Any:
    return {"tenant_id": tenant, "stage": stage, "value_minor": value, "currency": currency,
            "department_id": dept, "title": "t", "contact_id": "c", "source": "manual",
            "created_at": utcnow(), "updated_at": utcnow()}  # fmt: skip


_NUMBERS = iter(range(1, 1_000))


def ticket(tenant: str, status: str, dept: str, **sla: Any) -> Any:
    return {"tenant_id": tenant, "status": status, "department_id": dept,
            "number": next(_NUMBERS), "sla": {"breached": bool(sla), **sla}}  # fmt: skip


def meeting(tenant: str, status: str, starts: datetime, dept: str) -> Any:
    return {"tenant_id": tenant, "status": status, "starts_at": starts, "department_id": dept}


async def seed(mongo: MongoClient, db: str, acme: str, beta: str, sales: str, help: str) -> None:
    database = mongo[db]
    await database["crm_leads"].insert_many([
        lead(acme, "new", 10_000, "EUR", sales), lead(acme, "new", 2_550, "EUR", help),
        lead(acme, "new", 700, "JPY", sales), lead(acme, "new", None, None, sales),
        lead(acme, "won", 99_999, "USD", sales), lead(acme, "lost", 5_000, "EUR", help),
        lead(beta, "new", 1_000_000, "EUR", "x"), lead(beta, "proposal", 1, "EUR", "x"),
    ])  # fmt: skip
    await database["crm_tickets"].insert_many([
        ticket(acme, "open", sales),
        ticket(acme, "pending", help, first_response_breached_at=utc(1, 12)),
        ticket(acme, "on_hold", sales, resolution_breached_at=utc(9, 12)),  # after the window
        ticket(acme, "solved", help, first_response_breached_at=utc(2, 9),
               resolution_breached_at=utc(3, 9)),
        ticket(beta, "open", "x", first_response_breached_at=utc(2, 9)),
    ])  # fmt: skip
    await database["crm_meetings"].insert_many([
        meeting(acme, "completed", utc(1, 10), sales), meeting(acme, "completed", utc(2, 10), help),
        meeting(acme, "no_show", utc(3, 10), help), meeting(acme, "confirmed", utc(2, 11), sales),
        meeting(acme, "completed", utc(6, 10), sales),  # after the window
        meeting(beta, "no_show", utc(2, 10), "x"),
    ])  # fmt: skip


async def crm(client: AppClient, headers: dict[str, str]) -> Any:
    response = await client.get(DASHBOARD, params=WINDOW, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["crm"]


async def test_the_crm_figures_of_a_known_dataset(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    acme_id, beta_id = acme.tenant.id or "", beta.tenant.id or ""
    now = utcnow()
    with tenant_context(TenantId(acme_id)):
        departments = BeanieDepartmentRepository()
        sales = await departments.add(Department(name="Sales", created_at=now, updated_at=now))
        help_ = await departments.add(Department(name="Help", created_at=now, updated_at=now))
    assert sales.id and help_.id
    await seed(mongo_client, db_name, acme_id, beta_id, sales.id, help_.id)

    found = await crm(client, owner)
    assert found["pipeline"] == [
        {"stage": "new", "count": 4, "values": [
            {"currency": "EUR", "value": "125.50"}, {"currency": "JPY", "value": "700"}]},
        {"stage": "contacted", "count": 0, "values": []},
        {"stage": "qualified", "count": 0, "values": []},
        {"stage": "proposal", "count": 0, "values": []},
        {"stage": "won", "count": 1, "values": [{"currency": "USD", "value": "999.99"}]},
        {"stage": "lost", "count": 1, "values": [{"currency": "EUR", "value": "50.00"}]},
    ]  # fmt: skip
    assert found["tickets"] == {
        "open": 3, "open_breached": 2, "first_response_breaches": 2, "resolution_breaches": 1,
    }  # fmt: skip
    assert found["meetings"] == {"completed": 2, "no_show": 1, "show_rate": 0.6667}

    beta_crm = await crm(client, beta_owner)
    assert beta_crm["pipeline"][0]["values"] == [{"currency": "EUR", "value": "10000.00"}]
    assert beta_crm["tickets"]["open"] == 1 and beta_crm["meetings"]["no_show"] == 1

    # A reader limited to the Sales department counts Sales' records only.
    role = await client.post(
        ROLES,
        json={"name": "sales lead", "permissions": ["analytics:read"], "departments_only": True},
        headers=owner,
    )
    assert role.status_code == 201, role.text
    user = await add_user(client, owner, "sam@acme.example.com", role_ids=[role.json()["id"]])
    with tenant_context(TenantId(acme_id)):
        await departments.update(sales.id, {"member_ids": [user["id"]]})
    limited = bearer(acme_id, await login(client, "sam@acme.example.com", MEMBER_PASSWORD, acme_id))
    mine = await crm(client, limited)
    assert [(s["stage"], s["count"]) for s in mine["pipeline"] if s["count"]] == [
        ("new", 3), ("won", 1),
    ]  # fmt: skip
    assert mine["tickets"] == {
        "open": 2, "open_breached": 1, "first_response_breaches": 0, "resolution_breaches": 0,
    }  # fmt: skip
    assert mine["meetings"] == {"completed": 1, "no_show": 0, "show_rate": 1.0}
    assert (await crm(client, owner))["tickets"]["open"] == 3  # the owner's answer unchanged
