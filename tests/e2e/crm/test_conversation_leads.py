"""`POST /conversations/{id}/lead`: the conversation's contact, the defaults, one open lead
per conversation (409 `lead_exists`, also when two requests race, and when reopening a
lost one while another is open), permissions and tenant isolation."""

from __future__ import annotations

import asyncio
from typing import Any

import punq

from api.usecases.tenants.create_tenant import CreatedTenant
from tests.support.app import AppClient, assert_problem
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import channel_of, from_customer, receive
from tests.support.leads import LEADS, change
from tests.support.people import signed_in, two_tenants

CONVERSATIONS = "/api/v1/conversations"


async def a_conversation(
    client: AppClient, container: punq.Container, graph: FakeGraph, tenant: CreatedTenant,
    headers: dict[str, str], number: str,
) -> dict[str, Any]:  # fmt: skip
    channel = await channel_of(container, tenant, graph, number)
    await receive(container, from_customer(1, 0), channel)
    listed = await client.get(CONVERSATIONS, headers=headers)
    return dict(listed.json()["items"][0])


async def test_a_lead_from_a_conversation(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, beta_tenant, beta = await two_tenants(client)
    conversation = await a_conversation(client, container, graph, acme, owner, "111000111000")
    url = f"{CONVERSATIONS}/{conversation['id']}/lead"

    first = await client.post(url, headers=owner)
    assert first.status_code == 201, first.text
    lead = first.json()
    assert lead["contact_id"] == conversation["contact"]["id"]
    assert lead["conversation_id"] == conversation["id"]
    assert lead["title"] == "Conversation with C1" and lead["source"] == "conversation"

    again = await client.post(url, json={"title": "Another"}, headers=owner)
    assert assert_problem(again, 409, "lead_exists")["lead_id"] == lead["id"]

    await change(client, owner, lead["id"], stage="lost")
    second = await client.post(url, json={"title": "Second try", "value": "10",
                                          "currency": "USD"}, headers=owner)  # fmt: skip
    assert second.status_code == 201 and second.json()["value"] == "10.00"
    reopen = await client.patch(f"{LEADS}/{lead['id']}", json={"stage": "new"}, headers=owner)
    assert assert_problem(reopen, 409, "lead_exists")["lead_id"] == second.json()["id"]

    # Other tenants do not see the conversation; a bad body is 422.
    assert_problem(await client.post(url, headers=beta), 404, "not_found")
    bad = await client.post(url, json={"value": "-1", "currency": "USD"}, headers=owner)
    assert_problem(bad, 422, "negative_money_value")
    _, member = await signed_in(client, acme, owner, "mo@example.com", roles=["member"])
    assert_problem(await client.post(url, headers=member), 403, "forbidden")
    anonymous = await client.post(url, headers={"X-Tenant-ID": acme.tenant.id or ""})
    assert_problem(anonymous, 401, "unauthorized")
    missing = f"{CONVERSATIONS}/0123456789abcdef01234567/lead"
    assert_problem(await client.post(missing, headers=owner), 404, "not_found")
    assert beta_tenant.tenant.id != acme.tenant.id


async def test_racing_requests_make_one_open_lead(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    conversation = await a_conversation(client, container, graph, acme, owner, "111000111001")
    url = f"{CONVERSATIONS}/{conversation['id']}/lead"
    answers = await asyncio.gather(*(client.post(url, headers=owner) for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [201] + [409] * 5
    made = next(a.json()["id"] for a in answers if a.status_code == 201)
    assert all(a.json()["lead_id"] == made for a in answers if a.status_code == 409)
    listed = await client.get(LEADS, headers=owner)
    assert [i["id"] for i in listed.json()["items"]] == [made]
