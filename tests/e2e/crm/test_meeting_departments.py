"""Meetings and departments: a user limited to their departments sees, reads and changes
only their departments' meetings (others are 404), cannot put one elsewhere (403) nor
leave it without a department; an unknown department is 404."""

from __future__ import annotations

from tests.e2e.identity.test_department_limited_roles import add_department
from tests.support.app import AppClient, assert_problem
from tests.support.campaigns import add_contact
from tests.support.leads import limited_user
from tests.support.meetings import MEETINGS, at, create_meeting, meeting_body
from tests.support.people import two_tenants


async def test_a_limited_user_works_with_their_departments_meetings_only(
    client: AppClient,
) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    sam, sam_headers = await limited_user(client, owner, tenant_id, "sam@acme.example.com")
    sales = await add_department(tenant_id, "Sales", [sam])
    support = await add_department(tenant_id, "Support", [])
    theirs = await add_department(beta.tenant.id or "", "Sales", [])
    ann = await add_contact(client, owner, name="Ann", email="ann@example.com")

    in_sales = await create_meeting(client, owner, ann["id"], at(0), department_id=sales)
    in_support = await create_meeting(client, owner, ann["id"], at(1), department_id=support)
    nowhere = await create_meeting(client, owner, ann["id"], at(2))
    everything = await client.get(MEETINGS, headers=owner)
    assert len(everything.json()["items"]) == 3

    listed = await client.get(MEETINGS, headers=sam_headers)
    assert [m["id"] for m in listed.json()["items"]] == [in_sales["id"]]
    filtered = await client.get(MEETINGS, params={"department_id": support}, headers=sam_headers)
    assert filtered.json()["items"] == []
    assert (
        await client.get(f"{MEETINGS}/{in_sales['id']}", headers=sam_headers)
    ).status_code == 200
    for other in (in_support, nowhere):
        url = f"{MEETINGS}/{other['id']}"
        assert_problem(await client.get(url, headers=sam_headers), 404, "not_found")
        assert_problem(await client.post(f"{url}/confirm", headers=sam_headers), 404, "not_found")
        assert_problem(await client.patch(url, json={"title": "x"}, headers=sam_headers), 404,
                       "not_found")  # fmt: skip

    # Sam creates in Sales, not in Support nor without a department.
    mine = await create_meeting(client, sam_headers, ann["id"], at(5), department_id=sales)
    assert mine["owner_id"] == sam and mine["department_id"] == sales
    for department in (support, None):
        body = meeting_body(ann["id"], at(7), department_id=department)
        assert_problem(await client.post(MEETINGS, json=body, headers=sam_headers), 403,
                       "forbidden")  # fmt: skip
    moved = await client.patch(f"{MEETINGS}/{mine['id']}", json={"department_id": support},
                               headers=sam_headers)  # fmt: skip
    assert_problem(moved, 403, "forbidden")
    # An unknown department (or another tenant's) is 404.
    for department in ("0123456789abcdef01234567", theirs):
        body = meeting_body(ann["id"], at(9), department_id=department)
        assert_problem(await client.post(MEETINGS, json=body, headers=owner), 404,
                       "department_not_found")  # fmt: skip
    assert (await client.get(MEETINGS, headers=beta_owner)).json()["items"] == []
