"""`/api/v1/callback-requests` for staff over HTTP: list (filters, cursor paging), read,
assign, complete, cancel; `crm:read` to read and `crm:write` to change (401 without a
token, 403 without the permission); illegal moves 409 `callback_state_conflict`; bad
input 422; another tenant's requests 404 on every route; every change audited."""

from __future__ import annotations

from typing import Any

from tests.support.app import AppClient, assert_problem
from tests.support.callbacks import STAFF, add_department, submit
from tests.support.people import ROLES, audit_entries, create_role, signed_in, two_tenants


async def test_staff_assign_complete_and_cancel(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    ada, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    sales = await add_department(client.container, tenant_id, "Sales", ada["id"])
    first = await submit(client, tenant_id, name="First", department_id=sales)
    second = await submit(client, tenant_id, name="Second")
    third = await submit(client, tenant_id, name="Third", department_id=sales)

    listed = await client.get(STAFF, headers=agent)
    assert listed.status_code == 200, listed.text
    assert [r["id"] for r in listed.json()["items"]] == [third, second, first]
    assert listed.json()["next_cursor"] is None

    assigned = await client.post(f"{STAFF}/{first}/assign", json={"assignee_id": ada["id"]},
                                 headers=owner)  # fmt: skip
    assert assigned.status_code == 200, assigned.text
    body = assigned.json()
    assert body["status"] == "assigned" and body["assignee_id"] == ada["id"]
    assert body["assigned_by"] == acme.owner.id and body["assigned_at"]

    completed = await client.post(
        f"{STAFF}/{first}/complete", json={"outcome": "Called; sending a quote."}, headers=agent
    )
    assert completed.status_code == 200, completed.text
    assert completed.json()["status"] == "completed"
    assert completed.json()["outcome"] == "Called; sending a quote."
    assert completed.json()["completed_by"] == ada["id"]

    cancelled = await client.post(f"{STAFF}/{second}/cancel", json={"reason": "duplicate"},
                                  headers=agent)  # fmt: skip
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancel_reason"] == "duplicate"
    no_body = await client.post(f"{STAFF}/{third}/cancel", headers=agent)
    assert no_body.status_code == 200 and no_body.json()["cancel_reason"] is None

    for path, payload in (("assign", {"assignee_id": ada["id"]}), ("complete", {"outcome": "x"}),
                          ("cancel", {})):  # fmt: skip
        late = await client.post(f"{STAFF}/{first}/{path}", json=payload, headers=owner)
        assert_problem(late, 409, "callback_state_conflict")
    assert (await client.get(f"{STAFF}/{first}", headers=agent)).json() == completed.json()

    entries = await audit_entries(client, owner, resource_type="callback_request")
    actions = sorted(e["action"] for e in entries)
    assert actions == sorted(["callback_request.created"] * 3 + [
        "callback_request.assigned", "callback_request.completed",
        "callback_request.cancelled", "callback_request.cancelled",
    ])  # fmt: skip
    done = next(e for e in entries if e["action"] == "callback_request.completed")
    assert done["resource_id"] == first and done["actor_id"] == ada["id"]
    assert done["changes"]["from_status"] == "assigned" and done["changes"]["status"] == "completed"


async def test_filters_and_cursor_paging(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    sales = await add_department(client.container, tenant_id, "Sales")
    ids = [await submit(client, tenant_id, department_id=sales if n % 2 else None)
           for n in range(5)]  # fmt: skip
    owner_id = acme.owner.id or ""
    await client.post(f"{STAFF}/{ids[0]}/assign", json={"assignee_id": owner_id}, headers=owner)

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = (await client.get(STAFF, params=params, headers=owner)).json()
        seen.extend(r["id"] for r in page["items"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == list(reversed(ids))

    async def listed(**query: str) -> list[str]:
        response = await client.get(STAFF, params=query, headers=owner)
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["items"]]

    assert await listed(department_id=sales) == [ids[3], ids[1]]
    assert await listed(status="assigned") == [ids[0]]
    assert await listed(assignee_id=owner_id) == [ids[0]]
    assert await listed(status="new", department_id=sales) == [ids[3], ids[1]]
    assert await listed(status="completed") == []


async def test_auth_and_permissions(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    request_id = await submit(client, tenant_id)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")  # no crm:*
    await create_role(client, owner, "CRM viewer", ["crm:read"])
    _, reader = await signed_in(client, acme, owner, "vic@acme.example.com", roles=["CRM viewer"])

    anonymous = {"X-Tenant-ID": tenant_id}
    reads = [("GET", STAFF, None), ("GET", f"{STAFF}/{request_id}", None)]
    writes = [
        ("POST", f"{STAFF}/{request_id}/assign", {"assignee_id": acme.owner.id}),
        ("POST", f"{STAFF}/{request_id}/complete", {"outcome": "done"}),
        ("POST", f"{STAFF}/{request_id}/cancel", {}),
    ]
    for method, path, payload in reads + writes:
        assert_problem(await client.request(method, path, json=payload, headers=anonymous),
                       401, "unauthorized")  # fmt: skip
        assert_problem(await client.request(method, path, json=payload, headers=member),
                       403, "forbidden")  # fmt: skip
    for method, path, payload in reads:
        response = await client.request(method, path, json=payload, headers=reader)
        assert response.status_code == 200, response.text
    for method, path, payload in writes:
        assert_problem(await client.request(method, path, json=payload, headers=reader),
                       403, "forbidden")  # fmt: skip
    shown = (await client.get(f"{STAFF}/{request_id}", headers=owner)).json()
    assert shown["status"] == "new"


async def test_another_tenants_requests_are_404_on_every_route(client: AppClient) -> None:
    acme, acme_owner, beta, beta_owner = await two_tenants(client)
    theirs = await submit(client, acme.tenant.id or "")
    beta_user = beta.owner.id
    for method, path, payload in [
        ("GET", f"{STAFF}/{theirs}", None),
        ("POST", f"{STAFF}/{theirs}/assign", {"assignee_id": beta_user}),
        ("POST", f"{STAFF}/{theirs}/complete", {"outcome": "done"}),
        ("POST", f"{STAFF}/{theirs}/cancel", {}),
    ]:
        response = await client.request(method, path, json=payload, headers=beta_owner)
        assert_problem(response, 404, "not_found")
    assert (await client.get(STAFF, headers=beta_owner)).json()["items"] == []
    # Beta's token with acme's tenant header is refused outright.
    crossed = {**beta_owner, "X-Tenant-ID": acme.tenant.id or ""}
    assert (await client.get(f"{STAFF}/{theirs}", headers=crossed)).status_code in (401, 403)
    shown = (await client.get(f"{STAFF}/{theirs}", headers=acme_owner)).json()
    assert shown["status"] == "new" and shown["assignee_id"] is None


async def test_bad_input_is_422(client: AppClient) -> None:
    acme, owner, beta, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    request_id = await submit(client, tenant_id)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")  # no crm:read
    max_id = (await client.get("/api/v1/auth/me", headers=member)).json()["id"]
    for assignee in (beta.owner.id, "0" * 24, "nobody", max_id):
        refused = await client.post(f"{STAFF}/{request_id}/assign",
                                    json={"assignee_id": assignee}, headers=owner)  # fmt: skip
        assert_problem(refused, 422, "invalid_assignee")
    for payload in ({}, {"assignee_id": ""}):
        assert_problem(await client.post(f"{STAFF}/{request_id}/assign", json=payload,
                                         headers=owner), 422, "invalid_input")  # fmt: skip
    for outcome in ({}, {"outcome": ""}, {"outcome": "   "}, {"outcome": "o" * 2001},
                    {"outcome": "nul\u0000"}):  # fmt: skip
        refused = await client.post(f"{STAFF}/{request_id}/complete", json=outcome, headers=owner)
        assert_problem(refused, 422, "invalid_input")
    bad_reason = await client.post(f"{STAFF}/{request_id}/cancel",
                                   json={"reason": "r" * 501}, headers=owner)  # fmt: skip
    assert_problem(bad_reason, 422, "invalid_input")
    for query in ({"status": "lost"}, {"limit": "0"}, {"limit": "101"}, {"cursor": "nope"}):
        assert_problem(await client.get(STAFF, params=query, headers=owner), 422,
                       "invalid_input")  # fmt: skip
    assert_problem(await client.get(f"{STAFF}/not-an-id", headers=owner), 404, "not_found")
    shown = (await client.get(f"{STAFF}/{request_id}", headers=owner)).json()
    assert shown["status"] == "new"


async def test_a_department_limited_user_sees_and_changes_their_departments_only(
    client: AppClient,
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    desk = await client.post(
        ROLES, json={"name": "Sales desk", "permissions": ["crm:read", "crm:write"],
                     "departments_only": True}, headers=owner,
    )  # fmt: skip
    assert desk.status_code == 201, desk.text
    sam, limited = await signed_in(client, acme, owner, "sam@acme.example.com",
                                   roles=["Sales desk"])  # fmt: skip
    sales = await add_department(client.container, tenant_id, "Sales", sam["id"])
    support = await add_department(client.container, tenant_id, "Support")
    ours = await submit(client, tenant_id, department_id=sales)
    theirs = await submit(client, tenant_id, department_id=support)
    nowhere = await submit(client, tenant_id)

    listed = (await client.get(STAFF, headers=limited)).json()["items"]
    assert [r["id"] for r in listed] == [ours]
    asked = await client.get(STAFF, params={"department_id": support}, headers=limited)
    assert asked.json()["items"] == []
    for other in (theirs, nowhere):
        for method, path, payload in [
            ("GET", f"{STAFF}/{other}", None),
            ("POST", f"{STAFF}/{other}/assign", {"assignee_id": sam["id"]}),
            ("POST", f"{STAFF}/{other}/complete", {"outcome": "done"}),
            ("POST", f"{STAFF}/{other}/cancel", {}),
        ]:
            response = await client.request(method, path, json=payload, headers=limited)
            assert_problem(response, 404, "not_found")
    mine = await client.post(f"{STAFF}/{ours}/assign", json={"assignee_id": sam["id"]},
                             headers=limited)  # fmt: skip
    assert mine.status_code == 200, mine.text
    # Sam cannot see Support's request, so nobody may give it to Sam.
    refused = await client.post(f"{STAFF}/{theirs}/assign", json={"assignee_id": sam["id"]},
                                headers=owner)  # fmt: skip
    assert_problem(refused, 422, "invalid_assignee")
    everything = (await client.get(STAFF, headers=owner)).json()["items"]
    assert {r["id"] for r in everything} == {ours, theirs, nowhere}
    assert {r["status"] for r in everything if r["id"] != ours} == {"new"}
