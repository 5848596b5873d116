"""`POST /conversations/{id}/read` over HTTP: the unread count to 0, `inbox:write` (agent
yes, member no), tenant isolation, a bad query, the audit entry (the read receipt the job
sends is in `test_send_jobs.py`)."""

from __future__ import annotations

import punq

from tests.support.app import AppClient, assert_problem
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import stored_channel
from tests.support.people import audit_entries, signed_in, two_tenants
from tests.support.sending import CONVERSATIONS, customer_wrote


async def test_mark_read_zeroes_the_unread_count_and_is_audited(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, beta_owner = await two_tenants(client)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    conversation_id = (await customer_wrote(container, channel)).conversation_id
    await customer_wrote(container, channel, n=1)
    url = f"{CONVERSATIONS}/{conversation_id}/read"
    before = (await client.get(f"{CONVERSATIONS}/{conversation_id}", headers=owner)).json()
    assert before["unread_count"] == 2
    assert_problem(await client.post(url), 401, "unauthorized")
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    assert_problem(await client.post(url, headers=member), 403, "forbidden")
    assert_problem(await client.post(url, headers=beta_owner), 404, "not_found")
    _, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    read = await client.post(url, params={"typing": "true"}, headers=agent)
    assert read.status_code == 200, read.text
    assert read.json()["unread_count"] == 0 and read.json()["id"] == conversation_id
    after = (await client.get(f"{CONVERSATIONS}/{conversation_id}", headers=owner)).json()
    assert after["unread_count"] == 0
    [entry] = await audit_entries(client, owner, action="conversation.read")
    assert entry["resource_id"] == conversation_id
    assert entry["changes"]["unread_count"] == {"from": 2, "to": 0}
    bad = await client.post(url, params={"typing": "maybe"}, headers=agent)
    assert_problem(bad, 422, "invalid_input")
