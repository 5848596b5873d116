"""`/api/v1/departments` over HTTP: create, list, read, change and delete departments;
names unique per tenant regardless of case (409), members active users of the tenant
(422), SLA targets and business hours checked (422), `departments:manage` to write and
`crm:read` to read; tenant isolation; audited; a department that conversations are
routed to is not deleted (409 `department_in_use`)."""

from __future__ import annotations

from typing import Any

import punq

from tests.support.app import AppClient, assert_problem
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import channel_of, from_customer, receive
from tests.support.people import audit_entries, signed_in, two_tenants

DEPARTMENTS = "/api/v1/departments"
CONVERSATIONS = "/api/v1/conversations"
HOURS = {
    "timezone": "Europe/Berlin",
    "days": {"mon": [{"start": "09:00", "end": "17:00"}]},
    "holidays": ["2026-12-25"],
}


SHAPE = {"id", "name", "members", "sla", "business_hours", "created_at", "updated_at"}


async def test_departments_end_to_end(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    ada, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    owner_id = acme.owner.id

    created = await client.post(
        DEPARTMENTS,
        json={"name": "  Sales   EU ", "members": [ada["id"], ada["id"]],
              "sla": {"first_response_minutes": 30, "resolution_minutes": 480},
              "business_hours": HOURS},
        headers=owner,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    sales = created.json()
    assert set(sales) == SHAPE
    assert sales["name"] == "Sales EU" and sales["members"] == [ada["id"]]
    assert sales["sla"] == {"first_response_minutes": 30, "resolution_minutes": 480}
    assert sales["business_hours"]["timezone"] == "Europe/Berlin"
    assert sales["business_hours"]["days"]["mon"] == [{"start": "09:00", "end": "17:00"}]
    assert sales["business_hours"]["holidays"] == ["2026-12-25"]
    support = (await client.post(DEPARTMENTS, json={"name": "Support"}, headers=owner)).json()
    assert support["members"] == [] and support["business_hours"] is None
    assert support["sla"] == {"first_response_minutes": None, "resolution_minutes": None}

    listed = await client.get(DEPARTMENTS, params={"page_size": 1}, headers=agent)  # crm:read
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"items": [sales], "total": 2, "page": 1, "page_size": 1}
    assert (await client.get(f"{DEPARTMENTS}/{support['id']}", headers=agent)).json() == support

    one = f"{DEPARTMENTS}/{support['id']}"
    changed = await client.patch(
        one, json={"name": "Support EU", "members": [owner_id, ada["id"]],
                   "sla": {"first_response_minutes": 15}, "business_hours": HOURS},
        headers=owner,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    after = changed.json()
    assert after["name"] == "Support EU" and after["members"] == [owner_id, ada["id"]]
    assert after["sla"] == {"first_response_minutes": 15, "resolution_minutes": None}
    assert after["business_hours"] is not None
    always_open = await client.patch(one, json={"business_hours": None}, headers=owner)
    assert always_open.json()["business_hours"] is None
    assert always_open.json()["name"] == "Support EU"
    unchanged = await client.patch(one, json={}, headers=owner)
    assert unchanged.json() == always_open.json()

    taken = await client.post(DEPARTMENTS, json={"name": "sales eu"}, headers=owner)
    assert_problem(taken, 409, "department_name_taken")
    renamed = await client.patch(one, json={"name": "SALES eu"}, headers=owner)
    assert_problem(renamed, 409, "department_name_taken")

    assert (await client.delete(one, headers=owner)).status_code == 204
    assert_problem(await client.get(one, headers=owner), 404, "department_not_found")
    assert_problem(await client.delete(one, headers=owner), 404, "department_not_found")
    assert_problem(await client.patch(one, json={}, headers=owner), 404, "department_not_found")

    actions = {
        e["action"]: e for e in await audit_entries(client, owner, resource_type="department")
    }
    assert set(actions) == {"department.created", "department.updated", "department.deleted"}
    assert actions["department.deleted"]["resource_id"] == support["id"]
    assert actions["department.deleted"]["actor_id"] == owner_id


async def test_members_must_be_active_users_of_the_tenant(client: AppClient) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    stranger, _ = await signed_in(client, beta, beta_owner, "sam@beta.example.com")
    leaver, _ = await signed_in(client, acme, owner, "lea@acme.example.com")
    deactivated = await client.post(f"/api/v1/users/{leaver['id']}/deactivate", headers=owner)
    assert deactivated.status_code < 300, deactivated.text
    for members in ([stranger["id"]], ["not-an-id"], ["0" * 24], [leaver["id"]]):
        refused = await client.post(
            DEPARTMENTS, json={"name": "Support", "members": members}, headers=owner
        )
        body = assert_problem(refused, 422, "invalid_department_members")
        assert body["errors"][0]["loc"] == ["member_ids"]
    department = (await client.post(DEPARTMENTS, json={"name": "Support"}, headers=owner)).json()
    refused = await client.patch(
        f"{DEPARTMENTS}/{department['id']}", json={"members": [stranger["id"]]}, headers=owner
    )
    assert_problem(refused, 422, "invalid_department_members")


BAD_BODIES: list[dict[str, Any]] = [
    {}, {"name": ""}, {"name": "x" * 101}, {"name": 5}, {"name": "A", "members": "x"},
    {"name": "A", "members": [""]}, {"name": "A", "members": ["x"] * 501},
    {"name": "A", "extra": 1}, {"name": "A", "sla": {"first_response_minutes": 0}},
    {"name": "A", "sla": {"resolution_minutes": 525_601}}, {"name": "A", "sla": {"x": 1}},
    {"name": "A", "sla": {"first_response_minutes": "soon"}},
    {"name": "A", "business_hours": {"days": {}}},
    {"name": "A", "business_hours": {"timezone": "UTC", "days": {"moonday": []}}},
]  # fmt: skip


async def test_bad_department_bodies_are_422(client: AppClient) -> None:
    _, owner, _, _ = await two_tenants(client)
    for body in [*BAD_BODIES, {"name": "   "}]:
        response = await client.post(DEPARTMENTS, json=body, headers=owner)
        assert_problem(response, 422, "invalid_input")
    hours_codes = [
        ({"timezone": "Mars/Olympus"}, "invalid_timezone"),
        ({"timezone": "UTC", "days": {"mon": [{"start": "25:00", "end": "26:00"}]}},
         "invalid_time_span"),
        ({"timezone": "UTC", "days": {"mon": [{"start": "09:00", "end": "17:00"},
                                              {"start": "16:00", "end": "18:00"}]}},
         "overlapping_time_spans"),
    ]  # fmt: skip
    for hours, code in hours_codes:
        response = await client.post(
            DEPARTMENTS, json={"name": "A", "business_hours": hours}, headers=owner
        )
        assert_problem(response, 422, code)
    department = (await client.post(DEPARTMENTS, json={"name": "Support"}, headers=owner)).json()
    bad_changes: list[dict[str, Any]] = [
        {"name": ""}, {"name": "  "}, {"members": [""]}, {"extra": 1},
        {"sla": {"first_response_minutes": -1}},
    ]  # fmt: skip
    for change in bad_changes:
        response = await client.patch(
            f"{DEPARTMENTS}/{department['id']}", json=change, headers=owner
        )
        assert_problem(response, 422, "invalid_input")
    response = await client.patch(
        f"{DEPARTMENTS}/{department['id']}", json={"business_hours": hours_codes[0][0]},
        headers=owner,
    )  # fmt: skip
    assert_problem(response, 422, "invalid_timezone")
    bad_page = await client.get(DEPARTMENTS, params={"page_size": 101}, headers=owner)
    assert_problem(bad_page, 422, "invalid_input")


async def test_who_may_read_and_manage_departments(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    department = (await client.post(DEPARTMENTS, json={"name": "Support"}, headers=owner)).json()
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    _, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    _, admin = await signed_in(client, acme, owner, "ida@acme.example.com", roles=["admin"])
    no_token = {"X-Tenant-ID": acme.tenant.id or ""}
    bad_token = {**no_token, "Authorization": "Bearer not-a-token"}
    one = f"{DEPARTMENTS}/{department['id']}"
    writes = [("POST", DEPARTMENTS, {"name": "New"}), ("PATCH", one, {"name": "Renamed"}),
              ("DELETE", one, None)]  # fmt: skip
    for method, url, body in writes:
        for headers, status, code in (
            (no_token, 401, "unauthorized"),
            (bad_token, 401, "unauthorized"),
            (member, 403, "forbidden"),
            (agent, 403, "forbidden"),
        ):
            response = await client.request(method, url, json=body, headers=headers)
            assert_problem(response, status, code)
    for url in (DEPARTMENTS, one):
        assert_problem(await client.get(url, headers=no_token), 401, "unauthorized")
        assert_problem(await client.get(url, headers=member), 403, "forbidden")
        assert (await client.get(url, headers=agent)).status_code == 200
    for method, url, body in writes:
        response = await client.request(method, url, json=body, headers=admin)
        assert response.status_code < 300, response.text


async def test_another_tenants_department_is_invisible(client: AppClient) -> None:
    _, acme_owner, _, beta_owner = await two_tenants(client)
    department = (
        await client.post(DEPARTMENTS, json={"name": "Support"}, headers=acme_owner)
    ).json()
    mirror = await client.post(DEPARTMENTS, json={"name": "Support"}, headers=beta_owner)
    assert mirror.status_code == 201  # names are unique per tenant only
    one = f"{DEPARTMENTS}/{department['id']}"
    assert_problem(await client.get(one, headers=beta_owner), 404, "department_not_found")
    renamed = await client.patch(one, json={"name": "Mine"}, headers=beta_owner)
    assert_problem(renamed, 404, "department_not_found")
    assert_problem(await client.delete(one, headers=beta_owner), 404, "department_not_found")
    beta_list = (await client.get(DEPARTMENTS, headers=beta_owner)).json()
    assert [d["id"] for d in beta_list["items"]] == [mirror.json()["id"]]
    assert beta_list["total"] == 1
    assert (await client.get(one, headers=acme_owner)).json() == department


async def test_a_department_with_routed_conversations_is_not_deleted(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await channel_of(container, acme, graph, "111000111000")
    await receive(container, from_customer(1, 0), channel)
    conversation = (await client.get(CONVERSATIONS, headers=owner)).json()["items"][0]
    department = (await client.post(DEPARTMENTS, json={"name": "Support"}, headers=owner)).json()
    one = f"{DEPARTMENTS}/{department['id']}"
    route = f"{CONVERSATIONS}/{conversation['id']}/department"
    routed = await client.post(route, json={"department_id": department["id"]}, headers=owner)
    assert routed.status_code == 200, routed.text
    body = assert_problem(await client.delete(one, headers=owner), 409, "department_in_use")
    assert "conversations" in body["detail"]
    unrouted = await client.post(route, json={"department_id": None}, headers=owner)
    assert unrouted.json()["department_id"] is None
    assert (await client.delete(one, headers=owner)).status_code == 204
