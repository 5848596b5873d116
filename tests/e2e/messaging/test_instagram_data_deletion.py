"""Instagram's data deletion callback over HTTP: Meta's signed_request checked with the
channel's app secret (missing or malformed 400, forged 403), the person's data erased in
the channel's tenant only, and the status page the answer names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from api.infrastructure.persistence.messaging.webhooks import WebhookEventDocument
from api.usecases.messaging.signed_request import make_signed_request
from tests.support.app import AppClient, assert_problem
from tests.support.fake_meta_graph import IG_ACCOUNT_ID, PAGE_ID, FakeMetaGraph
from tests.support.meta_channels import (
    APP_SECRET,
    WEBHOOKS,
    connect_meta,
    deliver,
    eventually,
    history,
    messages_once,
)
from tests.support.meta_payloads import CUSTOMER, delivery, echo, new_mid, text
from tests.support.people import two_tenants

CONTACTS = "/api/v1/contacts"


async def ask_deletion(
    http: httpx.AsyncClient, channel_id: str, form: dict[str, str]
) -> httpx.Response:
    return await http.post(f"{WEBHOOKS}/instagram/{channel_id}/data-deletion", data=form)


async def contacts(http: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    listed = await http.get(CONTACTS, headers=headers)
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


async def test_a_signed_request_erases_the_person_in_that_tenant_only(
    worker: Path, client: AppClient, meta_graph: FakeMetaGraph
) -> None:
    _, owner, _, beta_owner = await two_tenants(client)
    instagram = await connect_meta(client, owner, "instagram", meta_graph.base_url)
    theirs = await connect_meta(client, beta_owner, "messenger", meta_graph.base_url)
    ig_item = text(IG_ACCOUNT_ID, "My address is 1 Main St")
    await deliver(client, instagram, delivery(IG_ACCOUNT_ID, ig_item, object="instagram"))
    await deliver(client, instagram, delivery(IG_ACCOUNT_ID, text(IG_ACCOUNT_ID, "Call me"),
                                              object="instagram"))  # fmt: skip
    await deliver(client, theirs, delivery(PAGE_ID, text(PAGE_ID, "Beta's customer")))
    await messages_once(client, owner, instagram["id"], 2)
    await messages_once(client, beta_owner, theirs["id"], 1)
    reply = {"conversation_id": (await history(client, owner, instagram["id"]))[0][
        "conversation_id"], "type": "text", "text": {"body": "Noted"}}  # fmt: skip
    assert (await client.post("/api/v1/messages", json=reply, headers=owner)).status_code == 202
    assert len(await contacts(client, owner)) == 1

    async def deliveries(channel_id: str) -> list[WebhookEventDocument]:
        return await WebhookEventDocument.find({"channel_id": channel_id}).to_list()

    async def all_processed() -> bool:
        found = await deliveries(instagram["id"]) + await deliveries(theirs["id"])
        return len(found) == 3 and all(d.status == "processed" for d in found)

    await eventually(all_processed, "the three deliveries processed")

    signed_request = make_signed_request(
        {"user_id": CUSTOMER, "issued_at": 1733500000, "expires": 0}, APP_SECRET
    )
    answer = await ask_deletion(client, instagram["id"], {"signed_request": signed_request})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"url", "confirmation_code"} and body["confirmation_code"]
    assert body["url"].endswith(
        f"/api/v1/webhooks/instagram/{instagram['id']}/data-deletion/{body['confirmation_code']}"
    )
    # Acme's contact is gone, and what it wrote with it; Beta's, on its own channel, stays.
    assert await contacts(client, owner) == []
    erased = await history(client, owner, instagram["id"])
    inbound = [m for m in erased if m["direction"] == "inbound"]
    assert len(inbound) == 2 and {m["text"] for m in inbound} == {None}
    assert all(m["content"] == {"erased": True} for m in inbound)
    outbound = [m for m in erased if m["direction"] == "outbound"]
    assert [m["text"] for m in outbound] == ["Noted"]
    conversation = (
        await client.get(f"/api/v1/conversations/{erased[0]['conversation_id']}", headers=owner)
    ).json()
    assert conversation["contact"]["name"] is None and conversation["contact"]["bsuid"] is None
    assert len(await contacts(client, beta_owner)) == 1
    assert (await history(client, beta_owner, theirs["id"]))[0]["text"] == "Beta's customer"
    # The raw deliveries of what they wrote are erased; Beta's delivery is Beta's.
    assert [(d.body, d.erased_at is not None) for d in await deliveries(instagram["id"])] == [
        (b"", True),
        (b"", True),
    ]
    [beta_delivery] = await deliveries(theirs["id"])
    assert b"Beta's customer" in beta_delivery.body and beta_delivery.erased_at is None

    status_path = body["url"][body["url"].index("/api/v1/") :]
    status = await client.get(status_path)
    assert status.status_code == 200, status.text
    report = status.json()
    assert (
        report["status"] == "completed"
        and report["confirmation_code"] == (body["confirmation_code"])
    )
    assert report["contacts_erased"] == 1 and report["messages_erased"] == 2
    assert report["completed_at"] is not None
    unknown = await client.get(
        f"{WEBHOOKS}/instagram/{instagram['id']}/data-deletion/0000000000000000"
    )
    assert unknown.status_code == 404

    # Writing again, the person is a new contact (nothing links them to the erased one).
    back = text(IG_ACCOUNT_ID, "I'm back")
    await deliver(client, instagram, delivery(IG_ACCOUNT_ID, back, object="instagram"))
    found = await messages_once(client, owner, instagram["id"], 4)
    [again] = await contacts(client, owner)
    assert again["id"] == found[-1]["sender"]["id"] != inbound[0]["sender"]["id"]

    # A person Parley has no contact for gets a code too; a delivery naming them (the
    # business wrote to them from Meta's inbox: an echo, ignored) is erased all the same.
    stranger = echo(IG_ACCOUNT_ID, "Your code is 1234", mid=new_mid("m_ECHO"),
                    customer="999000111")  # fmt: skip
    await deliver(client, instagram, delivery(IG_ACCOUNT_ID, stranger, object="instagram"))

    async def echo_processed() -> bool:
        found = [d for d in await deliveries(instagram["id"]) if b"Your code" in d.body]
        return bool(found) and found[0].status == "processed"

    await eventually(echo_processed, "the echo's delivery processed")
    assert len(await contacts(client, owner)) == 1  # no contact for them
    nobody = make_signed_request({"user_id": "999000111"}, APP_SECRET)
    other = await ask_deletion(client, instagram["id"], {"signed_request": nobody})
    assert (
        other.status_code == 200
        and other.json()["confirmation_code"] != (body["confirmation_code"])
    )
    left = await deliveries(instagram["id"])
    assert not any(b"Your code" in d.body for d in left)
    assert sum(d.erased_at is not None for d in left) == 3  # the two before, and the echo
    assert any(b"I'm back" in d.body for d in left)  # another person's stays


async def test_bad_requests_are_refused_and_erase_nothing(
    client: AppClient, meta_graph: FakeMetaGraph
) -> None:
    _, owner, _, _ = await two_tenants(client)
    instagram = await connect_meta(client, owner, "instagram", meta_graph.base_url)
    messenger = await connect_meta(client, owner, "messenger", meta_graph.base_url)
    good = make_signed_request({"user_id": CUSTOMER}, APP_SECRET)
    forged = make_signed_request({"user_id": CUSTOMER}, "not-the-app-secret")
    assert_problem(await ask_deletion(client, instagram["id"], {}), 400, "malformed_request")
    for malformed in ("no-dot-here", "!!!.@@@", good.split(".")[0] + ".bm90IGpzb24"):
        refused = await ask_deletion(client, instagram["id"], {"signed_request": malformed})
        assert_problem(refused, 400, "malformed_request")
    assert_problem(
        await ask_deletion(client, instagram["id"], {"signed_request": forged}), 403, "forbidden"
    )
    tampered = good.split(".")[0] + "." + forged.split(".")[1][:-2] + "fQ"
    assert (
        await ask_deletion(client, instagram["id"], {"signed_request": tampered})
    ).status_code in (400, 403)
    # Only an Instagram channel has the callback; an unknown one is 404.
    assert (
        await ask_deletion(client, messenger["id"], {"signed_request": good})
    ).status_code == 404
    missing = await ask_deletion(client, "0123456789abcdef01234567", {"signed_request": good})
    assert missing.status_code == 404
