"""The shared inbox's read endpoints over HTTP: conversations newest activity first and
their messages newest first (cursor paging), one message; `inbox:read` (owner, admin,
agent; not member), tenant isolation and bounded, validated queries."""

from __future__ import annotations

from typing import Any

import punq
import pytest

from tests.support.app import AppClient, assert_problem
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import channel_of, from_customer, receive
from tests.support.people import signed_in, two_tenants

CONVERSATIONS = "/api/v1/conversations"
MESSAGES = "/api/v1/messages"
CONVERSATION_FIELDS = {
    "id", "channel_id", "channel_type", "contact", "status", "priority", "assignee_id",
    "team_id", "handled_by", "tags", "unread_count", "last_message_at", "last_inbound_at",
    "window_expires_at", "snoozed_until", "first_reply_at", "created_at", "updated_at",
    "department_id",
}  # fmt: skip
MESSAGE_FIELDS = {
    "id", "conversation_id", "channel_id", "direction", "type", "text", "content", "media",
    "reply_to_id", "private", "sender", "status", "status_timestamps", "error",
    "external_id", "created_at",
}  # fmt: skip


async def pages(client: AppClient, url: str, headers: dict[str, str], limit: int) -> list[Any]:
    seen: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        seen.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


async def test_the_inbox_reads_end_to_end(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await channel_of(container, acme, graph, "111000111000")
    await receive(container, from_customer(1, 0), channel)
    await receive(container, from_customer(2, 5, "username_only"), channel)
    await receive(container, from_customer(1, 10, "image"), channel)

    listed = await client.get(CONVERSATIONS, headers=owner)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["next_cursor"] is None and len(body["items"]) == 2
    first, second = body["items"]
    assert set(first) == CONVERSATION_FIELDS
    assert first["contact"] == {
        "id": first["contact"]["id"], "name": "C1", "phone": "+16505550001",
        "wa_id": "16505550001", "bsuid": "US.00000000000000000001",
    }  # fmt: skip
    assert second["contact"]["name"] == "C2"  # older activity second
    assert first["status"] == "open" and first["unread_count"] == 2
    assert first["handled_by"] == "human" and first["channel_id"] == channel.id
    assert first["last_inbound_at"] == "2026-05-01T09:10:00Z"
    assert first["window_expires_at"] == "2026-05-02T09:10:00Z"

    read = await client.get(f"{CONVERSATIONS}/{first['id']}", headers=owner)
    assert read.status_code == 200 and read.json() == first
    history = (await client.get(f"{CONVERSATIONS}/{first['id']}/messages", headers=owner)).json()
    assert [m["type"] for m in history["items"]] == ["image", "text"]
    image = history["items"][0]
    assert set(image) == MESSAGE_FIELDS and image["direction"] == "inbound"
    assert image["status"] == "received" and image["media"] is None
    assert image["content"]["media"]["mime_type"] == "image/jpeg"
    assert image["sender"] == {"type": "contact", "id": first["contact"]["id"]}
    one = await client.get(f"{MESSAGES}/{image['id']}", headers=owner)
    assert one.status_code == 200 and one.json() == image

    only_open = await client.get(CONVERSATIONS, params={"status": "open"}, headers=owner)
    assert len(only_open.json()["items"]) == 2
    resolved = await client.get(CONVERSATIONS, params={"status": "resolved"}, headers=owner)
    assert resolved.json() == {"items": [], "next_cursor": None}
    elsewhere = await client.get(CONVERSATIONS, params={"channel_id": "nope"}, headers=owner)
    assert elsewhere.json()["items"] == []
    here = await client.get(CONVERSATIONS, params={"channel_id": channel.id}, headers=owner)
    assert len(here.json()["items"]) == 2


async def test_cursor_paging(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await channel_of(container, acme, graph, "111000111000")
    for n in range(5):
        await receive(container, from_customer(n, n), channel)
    for minute in range(5, 12):
        await receive(container, from_customer(0, minute), channel)
    seen = await pages(client, CONVERSATIONS, owner, 2)
    assert [len(page) for page in seen] == [2, 2, 1]
    names = [c["contact"]["name"] for page in seen for c in page]
    assert names == ["C0", "C4", "C3", "C2", "C1"]
    newest = seen[0][0]["id"]
    history = await pages(client, f"{CONVERSATIONS}/{newest}/messages", owner, 3)
    times = [m["created_at"] for page in history for m in page]
    assert len(times) == 8 and times == sorted(times, reverse=True)
    assert len({m["id"] for page in history for m in page}) == 8
    for bad in ({"limit": 0}, {"limit": 101}, {"cursor": "not-a-cursor"}, {"cursor": ""}):
        response = await client.get(f"{CONVERSATIONS}/{newest}/messages", params=bad, headers=owner)
        assert_problem(response, 422, "invalid_input")


async def test_inbox_read_needs_the_permission(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await channel_of(container, acme, graph, "111000111000")
    await receive(container, from_customer(1, 0), channel)
    conversation = (await client.get(CONVERSATIONS, headers=owner)).json()["items"][0]
    message = (
        await client.get(f"{CONVERSATIONS}/{conversation['id']}/messages", headers=owner)
    ).json()["items"][0]
    urls = [
        CONVERSATIONS,
        f"{CONVERSATIONS}/{conversation['id']}",
        f"{CONVERSATIONS}/{conversation['id']}/messages",
        f"{MESSAGES}/{message['id']}",
    ]
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    _, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    _, admin = await signed_in(client, acme, owner, "ida@acme.example.com", roles=["admin"])
    tenant_only = {"X-Tenant-ID": acme.tenant.id or ""}
    for url in urls:
        assert_problem(await client.get(url, headers=tenant_only), 401, "unauthorized")
        assert_problem(await client.get(url, headers=member), 403, "forbidden")
        assert (await client.get(url, headers=agent)).status_code == 200
        assert (await client.get(url, headers=admin)).status_code == 200


async def test_another_tenants_inbox_is_invisible(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, acme_owner, beta, beta_owner = await two_tenants(client)
    acme_channel = await channel_of(container, acme, graph, "111000111000")
    beta_channel = await channel_of(container, beta, graph, "222000222000")
    await receive(container, from_customer(1, 0), acme_channel)
    await receive(container, from_customer(1, 1), beta_channel)  # the same customer
    acme_list = (await client.get(CONVERSATIONS, headers=acme_owner)).json()["items"]
    beta_list = (await client.get(CONVERSATIONS, headers=beta_owner)).json()["items"]
    assert len(acme_list) == len(beta_list) == 1
    assert acme_list[0]["id"] != beta_list[0]["id"]
    assert acme_list[0]["contact"]["id"] != beta_list[0]["contact"]["id"]
    conversation = acme_list[0]["id"]
    message = (
        await client.get(f"{CONVERSATIONS}/{conversation}/messages", headers=acme_owner)
    ).json()["items"][0]["id"]
    for url in (
        f"{CONVERSATIONS}/{conversation}",
        f"{CONVERSATIONS}/{conversation}/messages",
        f"{MESSAGES}/{message}",
    ):
        assert_problem(await client.get(url, headers=beta_owner), 404, "not_found")
    filtered = await client.get(
        CONVERSATIONS, params={"channel_id": acme_channel.id}, headers=beta_owner
    )
    assert filtered.json()["items"] == []
    for missing in ("not-an-id", "0" * 24):
        for url in (f"{CONVERSATIONS}/{missing}", f"{MESSAGES}/{missing}"):
            assert_problem(await client.get(url, headers=acme_owner), 404, "not_found")


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0}, {"limit": 101}, {"limit": "x"}, {"limit": 10**30},
        {"cursor": "not-a-cursor"}, {"cursor": ""}, {"cursor": "x" * 201},
        {"status": "closed"}, {"channel_id": ""},
    ],
)  # fmt: skip
async def test_bad_queries_are_422(client: AppClient, params: dict[str, Any]) -> None:
    _, owner, _, _ = await two_tenants(client)
    assert_problem(
        await client.get(CONVERSATIONS, params=params, headers=owner), 422, "invalid_input"
    )
