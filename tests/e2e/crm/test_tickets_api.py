"""`/api/v1/tickets` over HTTP: numbers 1..N without gaps (30 concurrent creates, a
lagging counter), status moves (409), SLA timers from the department, comments (the first
public one is the first response), filters and cursor paging, stats, audit, 401/403,
bad input (422) and tenant isolation on every route."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import punq

from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.base.mongo import MongoClient
from api.infrastructure.persistence.base.scoped import TenantScopedRepository
from api.infrastructure.persistence.crm.tickets import TicketCounterDocument
from tests.fakes.clock import FakeUtcClock
from tests.support.app import AppClient, assert_problem, use_clock
from tests.support.fake_graph import FakeGraph
from tests.support.onboarding import login
from tests.support.people import (
    MEMBER_PASSWORD,
    add_user,
    audit_entries,
    bearer,
    signed_in,
    two_tenants,
)
from tests.support.tickets import TICKETS, customer, department, open_ticket

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)  # a Monday


async def test_tickets_end_to_end(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    clock = FakeUtcClock(NOW)
    use_clock(container, clock)
    acme, owner, _, _ = await two_tenants(client)
    ada, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    contact_id, conversation_id, _ = await customer(container, acme, graph)
    support = await department(container, acme, first_response=60, resolution=480)

    created = await client.post(
        TICKETS,
        json={"contact_id": contact_id, "conversation_id": conversation_id,
              "subject": "  Printer on fire ", "description": "Smoke", "priority": "urgent",
              "assignee_id": ada["id"], "department_id": support},
        headers=agent,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    ticket = created.json()
    assert set(ticket) == {
        "id", "number", "contact_id", "conversation_id", "subject", "description", "priority",
        "status", "assignee_id", "department_id", "sla", "first_responded_at", "resolved_at",
        "created_at", "updated_at",
    }  # fmt: skip
    assert ticket["number"] == 1 and ticket["subject"] == "Printer on fire"
    assert ticket["status"] == "open" and ticket["priority"] == "urgent"
    # Urgent halves the targets; the department has no hours (always open).
    assert ticket["sla"] == {
        "first_response_due": "2026-05-04T10:30:00Z", "resolution_due": "2026-05-04T14:00:00Z",
        "resolution_paused": False, "breached": False, "first_response_breached_at": None,
        "resolution_breached_at": None,
    }  # fmt: skip
    one = f"{TICKETS}/{ticket['id']}"
    assert (await client.get(one, headers=agent)).json() == ticket

    # Pending pauses the resolution timer; open resumes it with what was left.
    clock.advance(hours=1)
    pending = await client.patch(one, json={"status": "pending"}, headers=agent)
    assert pending.status_code == 200, pending.text
    assert pending.json()["sla"]["resolution_due"] is None
    assert pending.json()["sla"]["resolution_paused"] is True
    clock.advance(hours=5)
    reopened = (await client.patch(one, json={"status": "open"}, headers=agent)).json()
    assert reopened["sla"]["resolution_due"] == "2026-05-04T19:00:00Z"  # 16:00 + 3 h left

    # Internal notes are not responses; the first public comment is.
    note = await client.post(f"{one}/comments", json={"body": "Call them", "public": False},
                             headers=agent)  # fmt: skip
    assert note.status_code == 201, note.text
    assert (await client.get(one, headers=agent)).json()["first_responded_at"] is None
    clock.advance(minutes=1)
    reply = await client.post(f"{one}/comments", json={"body": "We are on it", "public": True},
                              headers=agent)  # fmt: skip
    assert reply.status_code == 201
    assert (await client.get(one, headers=agent)).json()["first_responded_at"] == (
        "2026-05-04T16:01:00Z"
    )
    comments = (await client.get(f"{one}/comments", headers=agent)).json()["items"]
    assert [(c["body"], c["public"]) for c in comments] == [
        ("Call them", False), ("We are on it", True)]  # fmt: skip
    assert comments[0]["author_id"] == ada["id"]

    solved = (await client.patch(one, json={"status": "solved"}, headers=agent)).json()
    assert solved["resolved_at"] == "2026-05-04T16:01:00Z"
    closed = (await client.patch(one, json={"status": "closed"}, headers=agent)).json()
    assert closed["status"] == "closed"
    for change in ({"status": "open"}, {"subject": "Again"}):
        assert_problem(await client.patch(one, json=change, headers=agent), 409,
                       "ticket_state_conflict")  # fmt: skip
    refused = await client.post(f"{one}/comments", json={"body": "x", "public": True},
                                headers=agent)  # fmt: skip
    assert_problem(refused, 409, "ticket_state_conflict")

    actions = [e["action"] for e in await audit_entries(client, owner, resource_type="ticket")]
    assert sorted(actions) == sorted(
        ["ticket.created", "ticket.updated", "ticket.updated", "ticket.commented",
         "ticket.commented", "ticket.updated", "ticket.updated"]
    )  # fmt: skip
    updated = await audit_entries(client, owner, action="ticket.updated")
    assert {"from": "solved", "to": "closed"} in [e["changes"].get("status") for e in updated]


async def test_status_moves_that_are_not_allowed_are_409(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    contact_id, _, _ = await customer(container, acme, graph)
    ticket = await open_ticket(client, owner, contact_id)
    one = f"{TICKETS}/{ticket['id']}"
    assert (await client.patch(one, json={"status": "solved"}, headers=owner)).status_code == 200
    for status in ("pending", "on_hold"):
        assert_problem(await client.patch(one, json={"status": status}, headers=owner), 409,
                       "ticket_state_conflict")  # fmt: skip
    same = await client.patch(one, json={"status": "solved"}, headers=owner)
    assert same.status_code == 200  # no change
    back = (await client.patch(one, json={"status": "open"}, headers=owner)).json()
    assert back["status"] == "open" and back["resolved_at"] is None


async def test_thirty_concurrent_creates_get_one_to_thirty(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    contact_id, _, _ = await customer(container, acme, graph)
    beta_contact, _, _ = await customer(container, beta, graph, n=2)
    bodies = [{"contact_id": contact_id, "subject": f"T{i}"} for i in range(30)]
    answers = await asyncio.gather(
        *(client.post(TICKETS, json=b, headers=owner) for b in bodies),
        client.post(TICKETS, json={"contact_id": beta_contact, "subject": "B"}, headers=beta_owner),
    )
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
    assert sorted(a.json()["number"] for a in answers[:30]) == list(range(1, 31))
    assert answers[30].json()["number"] == 1  # per tenant
    # A refused create takes no number.
    refused = await client.post(TICKETS, json={"contact_id": "0" * 24, "subject": "x"},
                                headers=owner)  # fmt: skip
    assert_problem(refused, 422, "unknown_contact")
    assert (await open_ticket(client, owner, contact_id))["number"] == 31


async def test_a_lagging_counter_still_gives_the_next_number(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    """A create that stopped between its insert and raising the counter (a crash) leaves
    the counter behind: the next create finds the number taken and takes the next one."""
    acme, owner, _, _ = await two_tenants(client)
    contact_id, _, _ = await customer(container, acme, graph)
    for _ in range(3):
        await open_ticket(client, owner, contact_id)
    with tenant_context(TenantId(acme.tenant.id or "")):
        counters = TenantScopedRepository(TicketCounterDocument)
        await counters.update_many({}, {"$set": {"value": 1}})
    numbers = await asyncio.gather(*(open_ticket(client, owner, contact_id) for _ in range(3)))
    assert sorted(n["number"] for n in numbers) == [4, 5, 6]
    with tenant_context(TenantId(acme.tenant.id or "")):
        assert (await counters.find())[0].value == 6


async def test_links_must_be_the_tenants(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    contact_id, conversation_id, _ = await customer(container, acme, graph)
    other_contact, other_conversation, _ = await customer(container, acme, graph, n=2)
    beta_contact, beta_conversation, _ = await customer(container, beta, graph, n=3)
    stranger, _ = await signed_in(client, beta, beta_owner, "sam@beta.example.com")
    inactive, _ = await signed_in(client, acme, owner, "ina@acme.example.com")
    assert (await client.post(f"/api/v1/users/{inactive['id']}/deactivate",
                              headers=owner)).status_code in (200, 204)  # fmt: skip
    beta_department = await department(container, beta)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"contact_id": beta_contact}, "unknown_contact"),
        ({"contact_id": "nope"}, "unknown_contact"),
        ({"contact_id": contact_id, "conversation_id": beta_conversation},
         "unknown_conversation"),
        ({"contact_id": contact_id, "conversation_id": other_conversation},
         "unknown_conversation"),
        ({"contact_id": contact_id, "assignee_id": stranger["id"]}, "unknown_assignee"),
        ({"contact_id": contact_id, "assignee_id": inactive["id"]}, "unknown_assignee"),
        ({"contact_id": contact_id, "department_id": beta_department}, "unknown_department"),
    ]  # fmt: skip
    for fields, code in cases:
        response = await client.post(TICKETS, json={"subject": "S", **fields}, headers=owner)
        assert_problem(response, 422, code)
    ticket = await open_ticket(client, owner, other_contact, conversation_id=other_conversation)
    assert ticket["conversation_id"] == other_conversation
    one = f"{TICKETS}/{ticket['id']}"
    for change, code in (({"assignee_id": stranger["id"]}, "unknown_assignee"),
                         ({"department_id": beta_department}, "unknown_department")):  # fmt: skip
        assert_problem(await client.patch(one, json=change, headers=owner), 422, code)
    assert conversation_id


BAD_BODIES: list[dict[str, Any]] = [
    {}, {"subject": "S"}, {"contact_id": "c"}, {"contact_id": "c", "subject": ""},
    {"contact_id": "c", "subject": "x" * 201},
    {"contact_id": "c", "subject": "S", "priority": "meh"},
    {"contact_id": "c", "subject": "S", "status": "open"}, {"contact_id": "", "subject": "S"},
    {"contact_id": "c", "subject": "S", "description": "x" * 10_001},
]  # fmt: skip


async def test_bad_input_is_422(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    for body in BAD_BODIES:
        assert_problem(await client.post(TICKETS, json=body, headers=owner), 422, "invalid_input")
    contact_id, _, _ = await customer(container, acme, graph)
    assert_problem(await client.post(TICKETS, json={"contact_id": contact_id, "subject": "   "},
                                     headers=owner), 422, "invalid_input")  # fmt: skip
    one = f"{TICKETS}/{(await open_ticket(client, owner, contact_id))['id']}"
    bad_changes: list[dict[str, Any]] = [
        {"status": "done"}, {"subject": ""}, {"subject": "  "}, {"priority": None}, {"x": 1},
    ]  # fmt: skip
    for change in bad_changes:
        response = await client.patch(one, json=change, headers=owner)
        assert response.status_code == 422, (change, response.text)
    for comment in (
        {"body": "", "public": True},
        {"body": "x"},
        {"body": "x" * 5001, "public": True},
    ):
        assert_problem(await client.post(f"{one}/comments", json=comment, headers=owner), 422,
                       "invalid_input")  # fmt: skip
    for params in ({"status": "nope"}, {"limit": 0}, {"limit": 101}, {"cursor": "garbage"},
                   {"breached": "maybe"}):  # fmt: skip
        assert_problem(await client.get(TICKETS, params=params, headers=owner), 422,
                       "invalid_input")  # fmt: skip
    for params in ({"since": "2026-05-04T00:00:00Z", "until": "2026-05-01T00:00:00Z"},
                   {"since": "2024-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
                   {"since": "yesterday"}):  # fmt: skip
        assert_problem(await client.get(f"{TICKETS}/stats", params=params, headers=owner), 422,
                       "invalid_input")  # fmt: skip


async def test_filters_and_cursor_paging(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    clock = FakeUtcClock(NOW)
    use_clock(container, clock)
    acme, owner, _, _ = await two_tenants(client)
    ada, _ = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    contact_id, _, _ = await customer(container, acme, graph)
    other_contact, _, _ = await customer(container, acme, graph, n=2)
    sales = await department(container, acme, "Sales")
    made = []
    for i in range(5):
        clock.advance(minutes=1)
        made.append(await open_ticket(
            client, owner, contact_id if i % 2 == 0 else other_contact, subject=f"T{i}",
            priority="high" if i < 2 else "low", assignee_id=ada["id"] if i == 4 else None,
            department_id=sales if i == 3 else None,
        ))  # fmt: skip
    await client.patch(f"{TICKETS}/{made[1]['id']}", json={"status": "pending"}, headers=owner)

    async def numbers(**params: Any) -> list[int]:
        response = await client.get(TICKETS, params=params, headers=owner)
        assert response.status_code == 200, response.text
        return [t["number"] for t in response.json()["items"]]

    assert await numbers() == [5, 4, 3, 2, 1]
    assert await numbers(status="pending") == [2]
    assert await numbers(priority="high") == [2, 1]
    assert await numbers(contact_id=other_contact) == [4, 2]
    assert await numbers(department_id=sales) == [4]
    assert await numbers(assignee_id=ada["id"]) == [5]
    assert await numbers(breached=True) == []
    assert await numbers(breached=False) == [5, 4, 3, 2, 1]
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(TICKETS, params=params, headers=owner)).json()
        seen += [t["number"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [5, 4, 3, 2, 1]


async def test_stats(client: AppClient, container: punq.Container, graph: FakeGraph) -> None:
    clock = FakeUtcClock(NOW)
    use_clock(container, clock)
    acme, owner, _, beta_owner = await two_tenants(client)
    contact_id, _, _ = await customer(container, acme, graph)
    support = await department(container, acme, first_response=30, resolution=None)
    first = await open_ticket(client, owner, contact_id, priority="high", department_id=support)
    second = await open_ticket(client, owner, contact_id, priority="high")
    await open_ticket(client, owner, contact_id, priority="low")
    clock.advance(minutes=10)
    await client.post(f"{TICKETS}/{second['id']}/comments", json={"body": "Hi", "public": True},
                      headers=owner)  # fmt: skip
    clock.advance(minutes=20)
    await client.post(f"{TICKETS}/{first['id']}/comments", json={"body": "Hi", "public": True},
                      headers=owner)  # fmt: skip
    clock.advance(minutes=30)
    await client.patch(f"{TICKETS}/{second['id']}", json={"status": "solved"}, headers=owner)
    params = {"since": "2026-05-04T00:00:00Z", "until": "2026-05-05T00:00:00Z"}
    stats = (await client.get(f"{TICKETS}/stats", params=params, headers=owner)).json()
    naive = await client.get(f"{TICKETS}/stats", params={"since": "2026-05-04T00:00:00"},
                             headers=owner)  # fmt: skip
    assert naive.status_code == 200, naive.text  # no zone: UTC, until now
    assert naive.json()["open_by_priority"] == stats["open_by_priority"]
    assert stats["open_by_priority"] == {"low": 1, "normal": 0, "high": 1, "urgent": 0}
    assert stats["median_first_response_minutes"] == 20.0  # 10 and 30
    assert stats["median_resolution_minutes"] == 60.0
    assert stats["open_breached"] == 0 and stats["first_response_breaches"] == 0
    other = (await client.get(f"{TICKETS}/stats", params=params, headers=beta_owner)).json()
    assert other["open_by_priority"] == {"low": 0, "normal": 0, "high": 0, "urgent": 0}
    assert other["median_first_response_minutes"] is None


async def test_who_may_read_and_change_tickets(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    contact_id, _, _ = await customer(container, acme, graph)
    ticket = await open_ticket(client, owner, contact_id)
    one = f"{TICKETS}/{ticket['id']}"
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    _, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    no_token = {"X-Tenant-ID": acme.tenant.id or ""}
    reads = [("GET", TICKETS, None), ("GET", one, None), ("GET", f"{one}/comments", None),
             ("GET", f"{TICKETS}/stats", None)]  # fmt: skip
    writes = [("POST", TICKETS, {"contact_id": contact_id, "subject": "S"}),
              ("PATCH", one, {"priority": "high"}),
              ("POST", f"{one}/comments", {"body": "b", "public": False})]  # fmt: skip
    for method, url, body in reads + writes:
        response = await client.request(method, url, json=body, headers=no_token)
        assert_problem(response, 401, "unauthorized")
        assert_problem(await client.request(method, url, json=body, headers=member), 403,
                       "forbidden")  # fmt: skip
    for method, url, body in reads + writes:
        response = await client.request(method, url, json=body, headers=agent)
        assert response.status_code in (200, 201), (method, url, response.text)


async def test_another_tenants_tickets_are_404(
    client: AppClient,
    container: punq.Container,
    graph: FakeGraph,
    mongo_client: MongoClient,
    db_name: str,
) -> None:
    acme, acme_owner, beta, beta_owner = await two_tenants(client)
    contact_id, _, _ = await customer(container, acme, graph)
    ticket = await open_ticket(client, acme_owner, contact_id)
    one = f"{TICKETS}/{ticket['id']}"
    calls = [("GET", one, None), ("PATCH", one, {"status": "pending"}),
             ("GET", f"{one}/comments", None),
             ("POST", f"{one}/comments", {"body": "b", "public": True})]  # fmt: skip
    for method, url, body in calls:
        response = await client.request(method, url, json=body, headers=beta_owner)
        assert_problem(response, 404, "ticket_not_found")
    for bad_id in ("nope", "0" * 24):
        assert_problem(await client.get(f"{TICKETS}/{bad_id}", headers=acme_owner), 404,
                       "ticket_not_found")  # fmt: skip
    assert (await client.get(TICKETS, headers=beta_owner)).json()["items"] == []
    stats = (await client.get(f"{TICKETS}/stats", headers=beta_owner)).json()
    assert stats["open_by_priority"]["normal"] == 0
    after = (await client.get(one, headers=acme_owner)).json()
    assert after == ticket
    stored = await mongo_client[db_name]["crm_tickets"].find_one({"number": 1})
    assert stored is not None and stored["tenant_id"] == acme.tenant.id
    assert stored["sla"]["breached"] is False  # the dashboard's field
    assert beta
    _ = timedelta


async def test_a_department_limited_user_sees_and_routes_to_their_departments_only(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    role = await client.post(
        "/api/v1/roles",
        json={"name": "support desk", "permissions": ["crm:read", "tickets:manage"],
              "departments_only": True},
        headers=owner,
    )  # fmt: skip
    assert role.status_code == 201, role.text
    sam = await add_user(client, owner, "sam@acme.example.com", role_ids=[role.json()["id"]])
    limited = bearer(tenant_id, await login(client, "sam@acme.example.com", MEMBER_PASSWORD,
                                            tenant_id))  # fmt: skip
    contact_id, _, _ = await customer(container, acme, graph)
    support = await department(container, acme, "Support", members=[sam["id"]])
    sales = await department(container, acme, "Sales")
    ours = await open_ticket(client, owner, contact_id, department_id=support)
    theirs = await open_ticket(client, owner, contact_id, department_id=sales)
    nowhere = await open_ticket(client, owner, contact_id)

    listed = (await client.get(TICKETS, headers=limited)).json()["items"]
    assert [t["id"] for t in listed] == [ours["id"]]
    assert (await client.get(TICKETS, params={"department_id": sales},
                             headers=limited)).json()["items"] == []  # fmt: skip
    for other in (theirs, nowhere):
        one = f"{TICKETS}/{other['id']}"
        assert_problem(await client.get(one, headers=limited), 404, "ticket_not_found")
        assert_problem(await client.patch(one, json={"priority": "high"}, headers=limited),
                       404, "ticket_not_found")  # fmt: skip
        assert_problem(await client.post(f"{one}/comments", json={"body": "b", "public": True},
                                         headers=limited), 404, "ticket_not_found")  # fmt: skip
    # Routing: to one of theirs only, never nowhere.
    created = await open_ticket(client, limited, contact_id, department_id=support)
    assert created["department_id"] == support
    for fields in ({"department_id": sales}, {}):
        refused = await client.post(TICKETS, json={"contact_id": contact_id, "subject": "S",
                                                   **fields}, headers=limited)  # fmt: skip
        assert_problem(refused, 403, "forbidden")
    moved = await client.patch(f"{TICKETS}/{ours['id']}", json={"department_id": sales},
                               headers=limited)  # fmt: skip
    assert_problem(moved, 403, "forbidden")
    stats = (await client.get(f"{TICKETS}/stats", headers=limited)).json()
    assert sum(stats["open_by_priority"].values()) == 2  # theirs and the one they opened
    everything = (await client.get(f"{TICKETS}/stats", headers=owner)).json()
    assert sum(everything["open_by_priority"].values()) == 4
