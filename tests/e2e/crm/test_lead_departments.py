"""Leads and departments: a user limited to departments sees, changes and makes leads in
their departments only (the scoped queries, not only the routes), and unlimited users
see them all."""

from __future__ import annotations

from tests.support.app import AppClient, assert_problem
from tests.support.leads import LEADS, add_department, limited_user, new_contact, new_lead
from tests.support.people import two_tenants


async def test_a_limited_user_works_in_their_departments_only(client: AppClient) -> None:
    acme, owner, _, beta = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    sam_id, sam = await limited_user(client, owner, tenant_id, "sam@example.com")
    sales = await add_department(tenant_id, "Sales", [sam_id])
    support = await add_department(tenant_id, "Support", [])
    contact = await new_contact(client, owner)
    ours = await new_lead(client, owner, contact_id=contact, title="Sales deal",
                          department_id=sales)  # fmt: skip
    theirs = await new_lead(client, owner, contact_id=contact, title="Support deal",
                            department_id=support)  # fmt: skip
    nobodys = await new_lead(client, owner, contact_id=contact, title="Unrouted deal")

    listed = await client.get(LEADS, headers=sam)
    assert [i["title"] for i in listed.json()["items"]] == ["Sales deal"]
    asked = await client.get(LEADS, params={"department_id": support}, headers=sam)
    assert asked.json()["items"] == []
    everyone = await client.get(LEADS, headers=owner)
    assert len(everyone.json()["items"]) == 3

    for hidden in (theirs, nobodys):
        url = f"{LEADS}/{hidden['id']}"
        assert_problem(await client.get(url, headers=sam), 404, "not_found")
        assert_problem(await client.patch(url, json={"title": "Mine"}, headers=sam), 404,
                       "not_found")  # fmt: skip
        assert_problem(await client.delete(url, headers=sam), 404, "not_found")

    changed = await client.patch(f"{LEADS}/{ours['id']}", json={"stage": "contacted"},
                                 headers=sam)  # fmt: skip
    assert changed.status_code == 200 and changed.json()["stage"] == "contacted"
    moved = await client.patch(f"{LEADS}/{ours['id']}", json={"department_id": support},
                               headers=sam)  # fmt: skip
    assert_problem(moved, 403, "forbidden")
    unrouted = await client.patch(f"{LEADS}/{ours['id']}", json={"department_id": None},
                                  headers=sam)  # fmt: skip
    assert_problem(unrouted, 403, "forbidden")

    made = await client.post(LEADS, json={"contact_id": contact, "title": "New",
                                          "department_id": sales}, headers=sam)  # fmt: skip
    assert made.status_code == 201 and made.json()["department_id"] == sales
    for elsewhere in ({"department_id": support}, {}):
        refused = await client.post(LEADS, json={"contact_id": contact, "title": "New",
                                                 **elsewhere}, headers=sam)  # fmt: skip
        assert_problem(refused, 403, "forbidden")
    beta_department = await add_department(beta["X-Tenant-ID"], "B", [])
    foreign = await client.post(LEADS, headers=owner, json={
        "contact_id": contact, "title": "X", "department_id": beta_department,
    })  # fmt: skip
    assert_problem(foreign, 422, "unknown_department")
