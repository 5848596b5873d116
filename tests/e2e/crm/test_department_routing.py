"""Conversations routed to departments over HTTP: `POST /conversations/{id}/department`
(404 for an unknown department or another tenant's, audited, `?department_id=` filter),
a user whose roles are all `departments_only` seeing only their departments'
conversations and messages (list, read, history, one message, actions) with membership
changes applied at once (no new sign-in), and auto-assignment among the department's
members."""

from __future__ import annotations

from typing import Any

import punq

from api.usecases.tenants.create_tenant import CreatedTenant
from tests.fakes.clock import FakeUtcClock
from tests.support.app import AppClient, assert_problem, use_clock
from tests.support.inbox import stored_channel
from tests.support.onboarding import login
from tests.support.people import (
    MEMBER_PASSWORD,
    add_user,
    audit_entries,
    bearer,
    signed_in,
    two_tenants,
)
from tests.support.routing import customer, put_settings, set_presence, writes

DEPARTMENTS = "/api/v1/departments"
CONVERSATIONS = "/api/v1/conversations"
MESSAGES = "/api/v1/messages"
ROLES = "/api/v1/roles"
NO_GRAPH = "http://127.0.0.1:9"  # nothing here calls the provider


async def department(
    client: AppClient, owner: dict[str, str], name: str, members: list[str] | None = None
) -> str:
    made = await client.post(
        DEPARTMENTS, json={"name": name, "members": members or []}, headers=owner
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def route(
    client: AppClient, headers: dict[str, str], conversation_id: str, department_id: str | None
) -> Any:
    return await client.post(
        f"{CONVERSATIONS}/{conversation_id}/department",
        json={"department_id": department_id},
        headers=headers,
    )


async def members(client: AppClient, owner: dict[str, str], department_id: str, *ids: str) -> None:
    changed = await client.patch(
        f"{DEPARTMENTS}/{department_id}", json={"members": list(ids)}, headers=owner
    )
    assert changed.status_code == 200, changed.text


async def limited_agent(
    client: AppClient, tenant: CreatedTenant, owner: dict[str, str], email: str
) -> tuple[str, dict[str, str]]:
    """A user holding only a `departments_only` role that can work the inbox."""
    role = await client.post(
        ROLES,
        json={"name": f"desk {email}", "permissions": ["inbox:read", "inbox:write", "crm:read"],
              "inherits": [], "departments_only": True},
        headers=owner,
    )  # fmt: skip
    assert role.status_code == 201, role.text
    assert role.json()["departments_only"] is True
    assert (await client.get(f"{ROLES}/{role.json()['id']}", headers=owner)).json()[
        "departments_only"
    ] is True
    user = await add_user(client, owner, email, role_ids=[role.json()["id"]])
    tokens = await login(client, email, MEMBER_PASSWORD, tenant.tenant.id or "")
    return str(user["id"]), bearer(tenant.tenant.id or "", tokens)


async def ids(client: AppClient, headers: dict[str, str], **params: Any) -> set[str]:
    listed = await client.get(CONVERSATIONS, params=params, headers=headers)
    assert listed.status_code == 200, listed.text
    return {c["id"] for c in listed.json()["items"]}


async def test_routing_a_conversation_to_a_department(
    client: AppClient, container: punq.Container
) -> None:
    clock = FakeUtcClock()
    use_clock(container, clock)
    acme, owner, _, beta_owner = await two_tenants(client)
    _, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    where = await stored_channel(container, acme.tenant.id or "", NO_GRAPH, phone_number_id="1")
    first = (await writes(container, where, customer(clock, 1))).conversation_id
    second = (await writes(container, where, customer(clock, 2))).conversation_id
    sales = await department(client, owner, "Sales")
    theirs = await department(client, beta_owner, "Sales")

    routed = await route(client, agent, first, sales)
    assert routed.status_code == 200, routed.text
    assert routed.json()["department_id"] == sales
    read = (await client.get(f"{CONVERSATIONS}/{first}", headers=owner)).json()
    assert read["department_id"] == sales
    assert (await client.get(f"{CONVERSATIONS}/{second}", headers=owner)).json()[
        "department_id"
    ] is None
    assert await ids(client, owner, department_id=sales) == {first}
    assert await ids(client, owner) == {first, second}
    again = await route(client, agent, first, sales)  # nothing changes: not audited again
    assert again.status_code == 200
    entries = await audit_entries(client, owner, action="conversation.routed")
    assert len(entries) == 1 and entries[0]["resource_id"] == first
    assert entries[0]["changes"]["department_id"] == {"from": None, "to": sales}

    for unknown in (theirs, "not-an-id", "0" * 24):
        assert_problem(await route(client, agent, second, unknown), 404, "department_not_found")
    assert_problem(await route(client, beta_owner, first, theirs), 404, "not_found")
    assert_problem(await route(client, member, first, sales), 403, "forbidden")
    no_token = {"X-Tenant-ID": acme.tenant.id or ""}
    assert_problem(await route(client, no_token, first, sales), 401, "unauthorized")
    for body in ({}, {"department_id": ""}, {"department_id": 5}, {"department_id": sales, "x": 1}):
        refused = await client.post(f"{CONVERSATIONS}/{first}/department", json=body, headers=agent)
        assert_problem(refused, 422, "invalid_input")
    unrouted = await route(client, agent, first, None)
    assert unrouted.json()["department_id"] is None


async def test_a_departments_only_user_sees_only_their_departments(
    client: AppClient, container: punq.Container
) -> None:
    clock = FakeUtcClock()
    use_clock(container, clock)
    acme, owner, _, _ = await two_tenants(client)
    ada_id, ada = await limited_agent(client, acme, owner, "ada@acme.example.com")
    _, agent = await signed_in(client, acme, owner, "bob@acme.example.com", roles=["agent"])
    where = await stored_channel(container, acme.tenant.id or "", NO_GRAPH, phone_number_id="1")
    in_sales = await writes(container, where, customer(clock, 1))
    in_support = await writes(container, where, customer(clock, 2))
    nowhere = (await writes(container, where, customer(clock, 3))).conversation_id
    sales = await department(client, owner, "Sales", [ada_id])
    support = await department(client, owner, "Support")
    assert (await route(client, owner, in_sales.conversation_id, sales)).status_code == 200
    assert (await route(client, owner, in_support.conversation_id, support)).status_code == 200
    mine, other = in_sales.conversation_id, in_support.conversation_id

    assert await ids(client, ada) == {mine}  # not Support's, not the unrouted one
    assert await ids(client, ada, department_id=support) == set()
    assert await ids(client, agent) == {mine, other, nowhere}  # an unlimited agent
    assert (await client.get(f"{CONVERSATIONS}/{mine}", headers=ada)).status_code == 200
    history = await client.get(f"{CONVERSATIONS}/{mine}/messages", headers=ada)
    assert [m["id"] for m in history.json()["items"]] == [in_sales.id]
    assert (await client.get(f"{MESSAGES}/{in_sales.id}", headers=ada)).status_code == 200
    for url in (f"{CONVERSATIONS}/{other}", f"{CONVERSATIONS}/{other}/messages",
                f"{CONVERSATIONS}/{nowhere}", f"{MESSAGES}/{in_support.id}"):  # fmt: skip
        assert_problem(await client.get(url, headers=ada), 404, "not_found")
    for action in ("resolve", "claim", "read"):
        response = await client.post(f"{CONVERSATIONS}/{other}/{action}", headers=ada)
        assert_problem(response, 404, "not_found")
    tagged = await client.put(f"{CONVERSATIONS}/{other}/tags", json={"tags": ["x"]}, headers=ada)
    assert_problem(tagged, 404, "not_found")
    assert (await client.post(f"{CONVERSATIONS}/{mine}/claim", headers=ada)).status_code == 200
    # Routing: only into their own departments, and never out of them.
    assert_problem(await route(client, ada, mine, support), 403, "forbidden")
    assert_problem(await route(client, ada, mine, None), 403, "forbidden")
    assert_problem(await route(client, ada, other, sales), 404, "not_found")
    listed = (await client.get(DEPARTMENTS, headers=ada)).json()
    assert [d["id"] for d in listed["items"]] == [sales] and listed["total"] == 1
    assert_problem(
        await client.get(f"{DEPARTMENTS}/{support}", headers=ada), 404, "department_not_found"
    )

    # Membership changes apply at once, with the same token.
    await members(client, owner, support, ada_id)
    assert await ids(client, ada) == {mine, other}
    assert (await client.get(f"{MESSAGES}/{in_support.id}", headers=ada)).status_code == 200
    await members(client, owner, sales)
    assert await ids(client, ada) == {other}
    assert_problem(await client.get(f"{CONVERSATIONS}/{mine}", headers=ada), 404, "not_found")


async def test_routing_auto_assigns_among_the_departments_members(
    client: AppClient, container: punq.Container
) -> None:
    clock = FakeUtcClock()
    use_clock(container, clock)
    acme, owner, _, _ = await two_tenants(client)
    made = [
        await signed_in(client, acme, owner, f"{n}@acme.example.com", roles=["agent"])
        for n in ("a", "b")
    ]
    (first, first_h), (second, second_h) = sorted(
        ((u["id"], h) for u, h in made), key=lambda a: a[0]
    )
    await put_settings(client, owner, auto_assign="round_robin", agent_capacity=5)
    where = await stored_channel(container, acme.tenant.id or "", NO_GRAPH, phone_number_id="1")
    # Nobody online yet: they open unassigned.
    one = (await writes(container, where, customer(clock, 1))).conversation_id
    two = (await writes(container, where, customer(clock, 2))).conversation_id
    await set_presence(client, first_h, "online")
    await set_presence(client, second_h, "online")
    sales = await department(client, owner, "Sales", [second])  # round robin would pick first
    support = await department(client, owner, "Support", [first])

    routed = await route(client, owner, one, sales)
    assert routed.json()["assignee_id"] == second
    routed = await route(client, owner, two, support)
    assert routed.json()["assignee_id"] == first
    assigned = await audit_entries(client, owner, action="conversation.assigned")
    assert {e["resource_id"] for e in assigned} == {one, two}
    # A department with no online member: it stays unassigned.
    empty = await department(client, owner, "Empty")
    three = (await writes(container, where, customer(clock, 3))).conversation_id
    if (await client.get(f"{CONVERSATIONS}/{three}", headers=owner)).json()["assignee_id"]:
        await client.post(
            f"{CONVERSATIONS}/{three}/assign", json={"assignee_id": None}, headers=owner
        )
    assert (await route(client, owner, three, empty)).json()["assignee_id"] is None
