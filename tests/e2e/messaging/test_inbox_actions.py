"""The shared inbox's actions over HTTP: assign (unassign, transfer), claim (one winner
under concurrency), resolve (the next message opens a new conversation), reopen (409
while a newer one is unresolved), snooze and the wake-up job (controlled clock), tags,
priority, private notes (never sent); `inbox:write`, tenant isolation, bad input, the
audit entries and the events agents receive; the list's filters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import punq
from redis.asyncio import Redis

from api.domain.clock import Clock
from api.domain.messaging.channels import Channel, ChannelRepository
from api.domain.messaging.conversations import ConversationRepository, SnoozeAlarms
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.conversation_status import WakeSnoozedConversations
from api.usecases.messaging.inbox_actions import InboxChangeLog
from api.usecases.tenants.create_tenant import CreatedTenant
from tests.fakes.clock import FakeUtcClock
from tests.support.app import AppClient, assert_problem
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import channel_of, from_customer, receive
from tests.support.people import audit_entries, create_role, signed_in, two_tenants
from tests.support.realtime import published

CONVERSATIONS = "/api/v1/conversations"
TEAMS = "/api/v1/teams"
ACME_NUMBER = "111000111000"


async def first_conversation(
    client: AppClient, container: punq.Container, graph: FakeGraph, tenant: CreatedTenant,
    headers: dict[str, str], number: str = ACME_NUMBER,
) -> dict[str, Any]:  # fmt: skip
    channel = await channel_of(container, tenant, graph, number)
    await receive(container, from_customer(1, 0), channel)
    listed = await client.get(CONVERSATIONS, headers=headers)
    return dict(listed.json()["items"][0])


def url(conversation: dict[str, Any], action: str = "") -> str:
    return f"{CONVERSATIONS}/{conversation['id']}{'/' + action if action else ''}"


async def updates(redis: Redis, tenant: CreatedTenant, conversation_id: str) -> list[Any]:
    """The `conversation.updated` data agents received for this conversation, in order."""
    return [
        e.data for e in await published(redis, tenant.tenant.id)
        if e.type == "conversation.updated" and e.conversation_id == conversation_id
    ]  # fmt: skip


async def channel_by_id(
    container: punq.Container, tenant: CreatedTenant, conversation: dict[str, Any]
) -> Channel:
    with tenant_context(TenantId(tenant.tenant.id or "")):
        channels: ChannelRepository = container.resolve(ChannelRepository)
        found = await channels.get(conversation["channel_id"])
    assert found is not None
    return found


def wake_job(container: punq.Container, clock: Clock) -> WakeSnoozedConversations:
    """The wake-up job's use case with the real adapters and a clock the test moves."""
    return WakeSnoozedConversations(
        container.resolve(SnoozeAlarms), container.resolve(ConversationRepository),
        container.resolve(InboxChangeLog), clock,
    )  # fmt: skip


async def test_assign_unassign_transfer_and_claim(
    client: AppClient, container: punq.Container, graph: FakeGraph, redis_client: Redis
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    conversation = await first_conversation(client, container, graph, acme, owner)
    ada, ada_headers = await signed_in(client, acme, owner, "ada@acme.example.com",
                                       roles=["agent"])  # fmt: skip
    bob, bob_headers = await signed_in(client, acme, owner, "bob@acme.example.com",
                                       roles=["agent"])  # fmt: skip
    team = (await client.post(TEAMS, json={"name": "Billing"}, headers=owner)).json()

    to_ada = await client.post(url(conversation, "assign"), json={"assignee_id": ada["id"]},
                               headers=owner)  # fmt: skip
    assert to_ada.status_code == 200, to_ada.text
    assert to_ada.json()["assignee_id"] == ada["id"] and to_ada.json()["team_id"] is None
    transfer = await client.post(
        url(conversation, "assign"), json={"assignee_id": bob["id"], "team_id": team["id"]},
        headers=ada_headers,
    )  # fmt: skip
    assert (transfer.json()["assignee_id"], transfer.json()["team_id"]) == (bob["id"], team["id"])
    to_team = await client.post(url(conversation, "assign"), json={"assignee_id": None},
                                headers=bob_headers)  # fmt: skip
    assert (to_team.json()["assignee_id"], to_team.json()["team_id"]) == (None, team["id"])
    claimed = await client.post(url(conversation, "claim"), headers=ada_headers)
    assert claimed.status_code == 200 and claimed.json()["assignee_id"] == ada["id"]
    again = await client.post(url(conversation, "claim"), headers=ada_headers)
    assert again.status_code == 200 and again.json() == claimed.json()
    assert_problem(await client.post(url(conversation, "claim"), headers=bob_headers),
                   409, "already_assigned")  # fmt: skip
    no_team = await client.post(
        url(conversation, "assign"), json={"assignee_id": ada["id"], "team_id": None}, headers=owner
    )
    assert no_team.json()["team_id"] is None and no_team.json()["assignee_id"] == ada["id"]
    mine = await client.get(CONVERSATIONS, params={"assignee_id": "me"}, headers=ada_headers)
    assert [c["id"] for c in mine.json()["items"]] == [conversation["id"]]

    seen = await updates(redis_client, acme, conversation["id"])
    assert [(c["assignee_id"], c["team_id"]) for c in seen] == [
        (ada["id"], None), (bob["id"], team["id"]), (None, team["id"]), (ada["id"], team["id"]),
        (ada["id"], None),
    ]  # fmt: skip
    entries = await audit_entries(client, owner, resource_type="conversation")
    assert [e["action"] for e in reversed(entries)] == [
        "conversation.assigned", "conversation.assigned", "conversation.assigned",
        "conversation.claimed", "conversation.assigned",
    ]  # fmt: skip
    transferred = entries[3]
    assert transferred["actor_id"] == ada["id"]
    assert transferred["resource_id"] == conversation["id"]
    assert transferred["changes"] == {"assignee_id": {"from": ada["id"], "to": bob["id"]},
                                      "team_id": {"from": None, "to": team["id"]}}  # fmt: skip


async def test_assignees_and_teams_must_be_the_tenants(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    conversation = await first_conversation(client, container, graph, acme, owner)
    member, _ = await signed_in(client, acme, owner, "max@acme.example.com")
    stranger, _ = await signed_in(client, beta, beta_owner, "sam@beta.example.com",
                                  roles=["agent"])  # fmt: skip
    gone, _ = await signed_in(client, acme, owner, "gus@acme.example.com", roles=["agent"])
    deactivated = await client.post(f"/api/v1/users/{gone['id']}/deactivate", headers=owner)
    assert deactivated.status_code < 300, deactivated.text
    beta_team = (await client.post(TEAMS, json={"name": "Billing"}, headers=beta_owner)).json()
    for assignee in (member["id"], stranger["id"], gone["id"], "not-an-id", "0" * 24):
        refused = await client.post(
            url(conversation, "assign"), json={"assignee_id": assignee}, headers=owner
        )
        body = assert_problem(refused, 422, "invalid_assignee")
        assert body["errors"] == [{"loc": ["assignee_id"], "msg": "not an agent of this tenant"}]
    for team_id in (beta_team["id"], "0" * 24):
        refused = await client.post(
            url(conversation, "assign"),
            json={"assignee_id": None, "team_id": team_id},
            headers=owner,
        )
        assert_problem(refused, 422, "unknown_team")
    for body in ({}, {"assignee_id": ""}, {"assignee_id": 5}, {"assignee_id": None, "x": 1},
                 {"assignee_id": None, "team_id": ""}):  # fmt: skip
        response = await client.post(url(conversation, "assign"), json=body, headers=owner)
        assert_problem(response, 422, "invalid_input")
    after = (await client.get(url(conversation), headers=owner)).json()
    assert after == conversation  # nothing changed


async def test_concurrent_claims_have_one_winner(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await channel_of(container, acme, graph, ACME_NUMBER)
    for n in range(3):
        await receive(container, from_customer(n, n), channel)
    conversations = (await client.get(CONVERSATIONS, headers=owner)).json()["items"]
    agents = [
        (await signed_in(client, acme, owner, f"a{n}@acme.example.com", roles=["agent"]))
        for n in range(3)
    ]
    for conversation in conversations:
        answers = await asyncio.gather(*(
            client.post(url(conversation, "claim"), headers=headers) for _, headers in agents
        ))  # fmt: skip
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200, 409, 409], [a.text for a in answers]
        winner = next(a.json()["assignee_id"] for a in answers if a.status_code == 200)
        stored = (await client.get(url(conversation), headers=owner)).json()
        assert stored["assignee_id"] == winner
        for loser in (a for a in answers if a.status_code == 409):
            assert_problem(loser, 409, "already_assigned")


async def test_resolve_then_the_next_message_opens_a_new_conversation(
    client: AppClient, container: punq.Container, graph: FakeGraph, redis_client: Redis
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await channel_of(container, acme, graph, ACME_NUMBER)
    await receive(container, from_customer(1, 0), channel)
    old = (await client.get(CONVERSATIONS, headers=owner)).json()["items"][0]

    resolved = await client.post(url(old, "resolve"), headers=owner)
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    again = await client.post(url(old, "resolve"), headers=owner)
    assert again.json() == resolved.json()  # nothing changes, nothing more is recorded
    await receive(container, from_customer(1, 5), channel)
    listed = (await client.get(CONVERSATIONS, headers=owner)).json()["items"]
    assert [c["status"] for c in listed] == ["open", "resolved"]
    new = listed[0]
    assert new["id"] != old["id"] and new["contact"]["id"] == old["contact"]["id"]

    refused = await client.post(url(old, "reopen"), headers=owner)
    assert_problem(refused, 409, "unresolved_conversation_exists")
    assert (await client.post(url(new, "resolve"), headers=owner)).status_code == 200
    reopened = await client.post(url(old, "reopen"), headers=owner)
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    await receive(container, from_customer(1, 10), channel)  # joins the reopened one
    joined = (await client.get(url(old), headers=owner)).json()
    assert joined["unread_count"] == 2 and joined["last_message_at"] == "2026-05-01T09:10:00Z"
    assert (await client.get(url(new), headers=owner)).json()["status"] == "resolved"
    assert (await client.post(url(old, "reopen"), headers=owner)).json()["status"] == "open"

    assert [c["status"] for c in await updates(redis_client, acme, old["id"])] == [
        "resolved", "open", "open",  # the last: the inbound message it received
    ]  # fmt: skip
    actions = [
        e["action"] for e in await audit_entries(client, owner, resource_type="conversation")
    ]
    assert sorted(actions) == ["conversation.reopened", "conversation.resolved",
                               "conversation.resolved"]  # fmt: skip


async def test_snooze_and_the_wake_up_job(
    client: AppClient, container: punq.Container, graph: FakeGraph, redis_client: Redis
) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    conversation = await first_conversation(client, container, graph, acme, owner)
    other = await first_conversation(client, container, graph, beta, beta_owner, "222000222000")
    until = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=123456)
    snoozed = await client.post(url(conversation, "snooze"), json={"until": until.isoformat()},
                                headers=owner)  # fmt: skip
    assert snoozed.status_code == 200, snoozed.text
    body = snoozed.json()
    assert body["status"] == "snoozed"
    assert datetime.fromisoformat(body["snoozed_until"]) == until.replace(microsecond=123000)
    await client.post(url(other, "snooze"), json={"until": until.isoformat()}, headers=beta_owner)
    snoozed_list = await client.get(CONVERSATIONS, params={"status": "snoozed"}, headers=owner)
    assert [c["id"] for c in snoozed_list.json()["items"]] == [conversation["id"]]

    clock = FakeUtcClock(until - timedelta(seconds=1))
    assert await wake_job(container, clock).execute() == 0  # not yet
    assert (await client.get(url(conversation), headers=owner)).json()["status"] == "snoozed"
    clock.advance(seconds=1)
    assert await wake_job(container, clock).execute() == 2  # both tenants'
    assert await wake_job(container, clock).execute() == 0
    woken = (await client.get(url(conversation), headers=owner)).json()
    assert woken["status"] == "open" and woken["snoozed_until"] is None
    assert (await client.get(url(other), headers=beta_owner)).json()["status"] == "open"
    assert [c["status"] for c in await updates(redis_client, acme, conversation["id"])] == [
        "snoozed", "open",
    ]  # fmt: skip
    assert [c["status"] for c in await updates(redis_client, beta, other["id"])] == [
        "snoozed", "open",
    ]  # fmt: skip
    woken_entries = await audit_entries(client, owner, action="conversation.woken")
    assert len(woken_entries) == 1 and woken_entries[0]["actor_id"] is None
    assert woken_entries[0]["resource_id"] == conversation["id"]
    assert [e["action"] for e in await audit_entries(client, owner,
                                                     resource_type="conversation")] == [
        "conversation.woken", "conversation.snoozed",
    ]  # fmt: skip

    # The contact writing wakes it too (on its channel: another channel is another thread).
    await client.post(url(conversation, "snooze"), json={"until": until.isoformat()},
                      headers=owner)  # fmt: skip
    elsewhere = await channel_of(container, acme, graph, "111000111999")
    await receive(container, from_customer(1, 20), elsewhere)
    assert (await client.get(url(conversation), headers=owner)).json()["status"] == "snoozed"
    await receive(container, from_customer(1, 30), await channel_by_id(container, acme,
                                                                       conversation))  # fmt: skip
    awake = (await client.get(url(conversation), headers=owner)).json()
    assert awake["status"] == "open" and awake["snoozed_until"] is None
    assert (await updates(redis_client, acme, conversation["id"]))[-1]["status"] == "open"


async def test_snooze_bad_times_and_resolved_conversations(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    conversation = await first_conversation(client, container, graph, acme, owner)
    now = datetime.now(UTC)
    for until in (now - timedelta(minutes=1), now + timedelta(days=366)):
        refused = await client.post(
            url(conversation, "snooze"), json={"until": until.isoformat()}, headers=owner
        )
        body = assert_problem(refused, 422, "snooze_not_in_future")
        assert body["errors"][0]["loc"] == ["until"]
    for bad in ({}, {"until": "tomorrow"}, {"until": "2030-01-01T10:00:00"}, {"until": None}):
        response = await client.post(url(conversation, "snooze"), json=bad, headers=owner)
        assert_problem(response, 422, "invalid_input")
    await client.post(url(conversation, "resolve"), headers=owner)
    later = (now + timedelta(hours=1)).isoformat()
    refused = await client.post(url(conversation, "snooze"), json={"until": later}, headers=owner)
    assert_problem(refused, 409, "conversation_resolved")
    assert (await client.get(url(conversation), headers=owner)).json()["status"] == "resolved"


async def test_tags_priority_and_the_list_filters(
    client: AppClient, container: punq.Container, graph: FakeGraph, redis_client: Redis
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await channel_of(container, acme, graph, ACME_NUMBER)
    for n in range(4):
        await receive(container, from_customer(n, n), channel)
    c3, c2, c1, c0 = (await client.get(CONVERSATIONS, headers=owner)).json()["items"]
    ada, ada_headers = await signed_in(client, acme, owner, "ada@acme.example.com",
                                       roles=["agent"])  # fmt: skip
    team = (await client.post(TEAMS, json={"name": "Billing"}, headers=owner)).json()

    tagged = await client.put(url(c1, "tags"), json={"tags": [" VIP ", "vip", "Late  Payer"]},
                              headers=ada_headers)  # fmt: skip
    assert tagged.status_code == 200 and tagged.json()["tags"] == ["vip", "late payer"]
    await client.put(url(c3, "tags"), json={"tags": ["vip"]}, headers=owner)
    bad_tags: list[dict[str, Any]] = [
        {"tags": ["x" * 51]}, {"tags": ["   "]}, {"tags": [str(n) for n in range(21)]},
        {"tags": "vip"}, {},
    ]  # fmt: skip
    for bad in bad_tags:
        assert_problem(await client.put(url(c1, "tags"), json=bad, headers=owner),
                       422, "invalid_input")  # fmt: skip
    urgent = await client.patch(url(c2), json={"priority": "urgent"}, headers=ada_headers)
    assert urgent.status_code == 200 and urgent.json()["priority"] == "urgent"
    bad_changes: list[dict[str, Any]] = [
        {}, {"priority": "asap"}, {"priority": None}, {"status": "open"},
    ]  # fmt: skip
    for change in bad_changes:
        response = await client.patch(url(c2), json=change, headers=owner)
        assert_problem(response, 422, "invalid_input")
    await client.post(url(c0, "assign"), json={"assignee_id": ada["id"]}, headers=owner)
    await client.post(url(c3, "assign"), json={"assignee_id": ada["id"]}, headers=owner)
    await client.post(url(c2, "assign"), json={"assignee_id": None, "team_id": team["id"]},
                      headers=owner)  # fmt: skip

    async def ids(who: dict[str, str] = owner, **params: Any) -> list[str]:
        response = await client.get(CONVERSATIONS, params=params, headers=who)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    assert await ids(tag="VIP") == [c3["id"], c1["id"]]
    assert await ids(tag="late payer") == [c1["id"]]
    assert await ids(assignee_id=ada["id"]) == [c3["id"], c0["id"]]
    assert await ids(ada_headers, assignee_id="me") == [c3["id"], c0["id"]]
    assert await ids(assignee_id="me") == []  # the owner has none
    assert await ids(assignee_id="none") == [c2["id"], c1["id"]]
    assert await ids(team_id=team["id"]) == [c2["id"]]
    assert await ids(tag="vip", assignee_id="me", who=ada_headers) == [c3["id"]]
    assert await ids(q="c2") == [c2["id"]]  # the contact's name, any case
    assert await ids(q="+1 (650) 555-0001") == [c1["id"]]  # phone, whatever the punctuation
    assert await ids(q="5550003") == [c3["id"]]
    assert await ids(q="650555") == [c3["id"], c2["id"], c1["id"], c0["id"]]
    assert await ids(q=".*") == [] and await ids(q="C[0-9]") == []  # no regex, literal text
    assert await ids(q="1", status="open", tag="vip") == [c3["id"], c1["id"]]  # "1" in phones

    pages: list[list[str]] = []  # the cursor pages through what the filters select
    cursor = None
    while True:
        params: dict[str, Any] = {
            "q": "650555",
            "limit": 1,
            **({"cursor": cursor} if cursor else {}),
        }
        body = (await client.get(CONVERSATIONS, params=params, headers=owner)).json()
        pages.append([c["id"] for c in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == [[c3["id"]], [c2["id"]], [c1["id"]], [c0["id"]]]

    bad_queries: list[dict[str, str]] = [
        {"q": ""}, {"q": "x" * 101}, {"q": "   "}, {"tag": "x" * 51}, {"assignee_id": ""},
        {"team_id": ""},
    ]  # fmt: skip
    for query in bad_queries:
        assert_problem(await client.get(CONVERSATIONS, params=query, headers=owner),
                       422, "invalid_input")  # fmt: skip
    assert [c["tags"] for c in await updates(redis_client, acme, c1["id"])] == [
        ["vip", "late payer"],
    ]  # fmt: skip
    actions = {
        e["action"] for e in await audit_entries(client, owner, resource_type="conversation")
    }
    assert {"conversation.tagged", "conversation.priority_changed"} <= actions


async def test_private_notes_are_never_sent(
    client: AppClient, container: punq.Container, graph: FakeGraph, redis_client: Redis
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    conversation = await first_conversation(client, container, graph, acme, owner)
    ada, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    sent_before = len(graph.requests)

    created = await client.post(
        url(conversation, "notes"), json={"body": "  Called them, pays Friday.  "}, headers=agent
    )
    assert created.status_code == 201, created.text
    note = created.json()
    assert note["private"] is True and note["type"] == "note" and note["direction"] == "outbound"
    assert note["text"] == "Called them, pays Friday."
    assert note["sender"] == {"type": "agent", "id": ada["id"]}
    assert note["status"] == "received" and note["external_id"] is None
    history = (await client.get(url(conversation, "messages"), headers=owner)).json()["items"]
    assert history[0] == note
    assert len(graph.requests) == sent_before  # nothing went to the provider
    after = (await client.get(url(conversation), headers=owner)).json()
    assert after == conversation  # unread count, activity and window untouched

    created_events = [e for e in await published(redis_client, acme.tenant.id)
                      if e.type == "message.created"]  # fmt: skip
    assert created_events[-1].data["id"] == note["id"]
    assert created_events[-1].data["private"] is True
    entry = (await audit_entries(client, owner, action="conversation.note_added"))[0]
    assert entry["changes"] == {"message_id": note["id"], "length": 25}
    assert entry["actor_id"] == ada["id"]
    for bad in ({"body": ""}, {"body": "   "}, {"body": "x" * 4097}, {}, {"body": 5}):
        response = await client.post(url(conversation, "notes"), json=bad, headers=agent)
        assert_problem(response, 422, "invalid_input")


TOMORROW = (datetime.now(UTC) + timedelta(days=1)).isoformat()
ACTIONS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "assign", {"assignee_id": None}), ("POST", "claim", None),
    ("POST", "resolve", None), ("POST", "reopen", None),
    ("POST", "snooze", {"until": TOMORROW}), ("PUT", "tags", {"tags": ["x"]}),
    ("PATCH", "", {"priority": "high"}), ("POST", "notes", {"body": "hi"}),
]  # fmt: skip


async def test_actions_need_inbox_write(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    conversation = await first_conversation(client, container, graph, acme, owner)
    await create_role(client, owner, "reader", ["inbox:read"])
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    _, reader = await signed_in(client, acme, owner, "rea@acme.example.com", roles=["reader"])
    no_token = {"X-Tenant-ID": acme.tenant.id or ""}
    for method, action, body in ACTIONS:
        target = url(conversation, action)
        assert_problem(await client.request(method, target, json=body, headers=no_token),
                       401, "unauthorized")  # fmt: skip
        for headers in (member, reader):
            refused = await client.request(method, target, json=body, headers=headers)
            assert "inbox:write" in assert_problem(refused, 403, "forbidden")["detail"]
    assert (await client.get(url(conversation), headers=owner)).json() == conversation


async def test_another_tenants_conversation_is_404(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, acme_owner, _, beta_owner = await two_tenants(client)
    conversation = await first_conversation(client, container, graph, acme, acme_owner)
    for method, action, body in ACTIONS:
        for target in (url(conversation, action), url({"id": "0" * 24}, action),
                       url({"id": "nope"}, action)):  # fmt: skip
            response = await client.request(method, target, json=body, headers=beta_owner)
            assert_problem(response, 404, "not_found")
    assert (await client.get(url(conversation), headers=acme_owner)).json() == conversation
    history = (await client.get(url(conversation, "messages"), headers=acme_owner)).json()
    assert [m["type"] for m in history["items"]] == ["text"]  # no note slipped in
