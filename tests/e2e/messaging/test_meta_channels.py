"""Messenger and Instagram Direct end to end: connecting through the API (credentials
checked with the fake Graph), Meta's signed webhooks through the real worker into the
inbox (every inbound kind, echoes, reactions, deletions, story replies and mentions,
redeliveries), sends within the 24-hour window and with the human-agent tag, tenant
isolation and permissions."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from api.infrastructure.persistence.messaging.contact_identities import ContactIdentityDocument
from api.infrastructure.persistence.messaging.webhooks import WebhookItemDocument
from tests.support.app import AppClient, assert_problem
from tests.support.fake_meta_graph import (
    IG_ACCOUNT_ID,
    IG_TOKEN,
    PAGE_ID,
    PAGE_TOKEN,
    FakeMetaGraph,
)
from tests.support.meta_channels import (
    CHANNELS,
    CONVERSATIONS,
    WEBHOOKS,
    connect_meta,
    deliver,
    eventually,
    history,
    instagram_body,
    messages_once,
    messenger_body,
)
from tests.support.meta_payloads import (
    CUSTOMER,
    attachment,
    deleted,
    delivery,
    echo,
    new_mid,
    reaction,
    story_mention,
    story_reply,
    text,
)
from tests.support.people import signed_in, two_tenants
from tests.support.sending import queued, send, settled
from tests.support.webhook_calls import signed

MESSAGES = "/api/v1/messages"


def at_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def test_connecting_checks_the_credentials_with_graph(
    client: AppClient, meta_graph: FakeMetaGraph
) -> None:
    _, owner, _, beta_owner = await two_tenants(client)
    url = meta_graph.base_url
    messenger = await connect_meta(client, owner, "messenger", url)
    assert messenger["type"] == "messenger" and messenger["page_id"] == PAGE_ID
    assert messenger["page_name"] == "Acme Support" and messenger["status"] == "active"
    assert messenger["account_id"] == PAGE_ID and messenger["human_agent_tag"] is False
    assert messenger["webhook_url"].endswith(f"/api/v1/webhooks/messenger/{messenger['id']}")
    assert messenger["has_access_token"] and messenger["has_app_secret"]
    assert PAGE_TOKEN not in json.dumps(messenger)
    instagram = await connect_meta(client, owner, "instagram", url)
    assert instagram["type"] == "instagram"
    assert instagram["instagram_account_id"] == IG_ACCOUNT_ID
    assert instagram["username"] == "acme.support" and instagram["account_id"] == IG_ACCOUNT_ID
    profile_calls = [s for s in meta_graph.requests if s.endpoint == "profile"]
    assert [s.path.rsplit("/", 1)[1] for s in profile_calls] == [PAGE_ID, IG_ACCOUNT_ID]
    assert [s.token for s in profile_calls] == [PAGE_TOKEN, IG_TOKEN]

    refused = await client.post(
        f"{CHANNELS}/messenger",
        json=messenger_body(url, page_access_token="EAAP-wrong-token-123"),
        headers=beta_owner,
    )
    problem = assert_problem(refused, 422, "channel_check_failed")
    assert "EAAP-wrong-token-123" not in refused.text and "190" in problem["detail"]
    unknown = await client.post(
        f"{CHANNELS}/instagram",
        json=instagram_body(url, instagram_account_id="17840000000000099"),
        headers=beta_owner,
    )
    assert_problem(unknown, 422, "channel_check_failed")
    # The same page, again or in another tenant: 409; nothing of a refused one was kept.
    for headers in (owner, beta_owner):
        again = await client.post(
            f"{CHANNELS}/messenger", json=messenger_body(url), headers=headers
        )
        assert again.status_code == 409, again.text
    listed = (await client.get(CHANNELS, headers=beta_owner)).json()
    assert listed["items"] == [] and listed["total"] == 0
    # Another tenant's channel is 404 and unlisted.
    other = await client.get(f"{CHANNELS}/{messenger['id']}", headers=beta_owner)
    assert other.status_code == 404
    typed = (await client.get(CHANNELS, params={"type": "instagram"}, headers=owner)).json()
    assert [c["id"] for c in typed["items"]] == [instagram["id"]]


async def test_connecting_needs_channels_manage(
    client: AppClient, meta_graph: FakeMetaGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    _, member = await signed_in(client, acme, owner, "member@acme.example")
    body = messenger_body(meta_graph.base_url)
    assert (await client.post(f"{CHANNELS}/messenger", json=body)).status_code == 401
    refused = await client.post(f"{CHANNELS}/messenger", json=body, headers=member)
    assert refused.status_code == 403, refused.text
    refused = await client.post(
        f"{CHANNELS}/instagram", json=instagram_body(meta_graph.base_url), headers=member
    )
    assert refused.status_code == 403, refused.text
    assert not [s for s in meta_graph.requests if s.endpoint == "profile"]


async def test_webhook_verification_and_signatures(
    client: AppClient, meta_graph: FakeMetaGraph
) -> None:
    _, owner, _, _ = await two_tenants(client)
    for kind in ("messenger", "instagram"):
        channel = await connect_meta(
            client, owner, kind, meta_graph.base_url, verify_token=f"verify-{kind}-0123"
        )
        path = f"{WEBHOOKS}/{kind}/{channel['id']}"
        hub = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
        ok = await client.get(path, params={**hub, "hub.verify_token": f"verify-{kind}-0123"})
        assert ok.status_code == 200 and ok.text == "1158201444"
        wrong = await client.get(path, params={**hub, "hub.verify_token": "nope"})
        assert wrong.status_code == 403
        other_kind = "instagram" if kind == "messenger" else "messenger"
        missing = await client.get(
            f"{WEBHOOKS}/{other_kind}/{channel['id']}",
            params={**hub, "hub.verify_token": f"verify-{kind}-0123"},
        )
        assert missing.status_code == 404  # the channel is not of that type
        body = json.dumps(delivery(PAGE_ID, text(PAGE_ID, "hi"))).encode()
        unsigned = await client.post(path, content=body)
        assert_problem(unsigned, 401, "unauthorized")
        forged = await client.post(path, content=body, headers=signed(body, "another-secret"))
        assert_problem(forged, 403, "forbidden")
        good = await deliver(client, channel, json.loads(body))
        assert good.status_code == 200 and good.json() == {"status": "received"}


async def test_inbound_messages_of_every_kind_reach_the_inbox(
    worker: Path, client: AppClient, meta_graph: FakeMetaGraph
) -> None:
    _, owner, _, _ = await two_tenants(client)
    channel = await connect_meta(client, owner, "messenger", meta_graph.base_url)
    meta_graph.cdn.update(
        {
            "photo.jpg": ("image/jpeg", b"\xff\xd8jpeg-bytes"),
            "clip.mp4": ("video/mp4", b"mp4-bytes"),
            "voice.mp4": ("audio/mp4", b"m4a-bytes"),
            "terms.pdf": ("application/pdf", b"%PDF-1.7"),
        }
    )
    first = new_mid()
    items = [
        text(PAGE_ID, "Hello, is this open on Sunday?", mid=first),
        attachment(PAGE_ID, "image", meta_graph.cdn_url("photo.jpg")),
        attachment(PAGE_ID, "video", meta_graph.cdn_url("clip.mp4")),
        attachment(PAGE_ID, "audio", meta_graph.cdn_url("voice.mp4")),
        attachment(PAGE_ID, "file", meta_graph.cdn_url("terms.pdf")),
        text(PAGE_ID, "About that", reply_to={"mid": first}),
    ]
    assert (await deliver(client, channel, delivery(PAGE_ID, *items))).status_code == 200
    found = await messages_once(client, owner, channel["id"], len(items))
    assert [m["type"] for m in found] == ["text", "image", "video", "audio", "document", "text"]
    assert {m["direction"] for m in found} == {"inbound"}
    assert {m["sender"]["type"] for m in found} == {"contact"}
    assert found[0]["text"] == "Hello, is this open on Sunday?"
    assert found[0]["external_id"] == first and found[5]["reply_to_id"] == found[0]["id"]
    conversations = (
        await client.get("/api/v1/conversations", params={"channel_id": channel["id"]},
                         headers=owner)
    ).json()["items"]  # fmt: skip
    assert len(conversations) == 1 and conversations[0]["channel_type"] == "messenger"
    assert conversations[0]["window_expires_at"] is not None

    async def copied() -> list[dict[str, Any]] | None:
        files = [m for m in await history(client, owner, channel["id"]) if m.get("media")]
        return files if len(files) == 4 else None

    files = await eventually(copied, "the four files copied into storage")
    by_type = {f["type"]: f["media"] for f in files}
    assert by_type["image"]["content_type"] == "image/jpeg"
    assert {t: m["size"] for t, m in by_type.items()} == {
        "image": 12, "video": 9, "audio": 9, "document": 8,
    }  # fmt: skip
    assert len([s for s in meta_graph.requests if s.endpoint == "cdn"]) >= 4


async def test_reactions_and_deletions_annotate_their_message(
    worker: Path, client: AppClient, meta_graph: FakeMetaGraph
) -> None:
    _, owner, _, _ = await two_tenants(client)
    channel = await connect_meta(client, owner, "instagram", meta_graph.base_url)
    mid = new_mid()
    await deliver(client, channel, delivery(IG_ACCOUNT_ID, text(IG_ACCOUNT_ID, "Nice!", mid=mid),
                                            object="instagram"))  # fmt: skip
    [target] = await messages_once(client, owner, channel["id"], 1)
    await deliver(
        client, channel,
        delivery(IG_ACCOUNT_ID, reaction(IG_ACCOUNT_ID, mid, "\u2764\ufe0f"), object="instagram"),
    )  # fmt: skip

    async def reacted() -> Any:
        got = (await client.get(f"{MESSAGES}/{target['id']}", headers=owner)).json()
        return got if got["content"].get("reaction") == "\u2764\ufe0f" else None

    await eventually(reacted, "the reaction on its message")
    await deliver(
        client, channel,
        delivery(IG_ACCOUNT_ID, reaction(IG_ACCOUNT_ID, mid, None), object="instagram"),
    )  # fmt: skip

    async def unreacted() -> Any:
        got = (await client.get(f"{MESSAGES}/{target['id']}", headers=owner)).json()
        return got if "reaction" in got["content"] and got["content"]["reaction"] is None else None

    await eventually(unreacted, "the reaction removed")
    await deliver(
        client, channel, delivery(IG_ACCOUNT_ID, deleted(IG_ACCOUNT_ID, mid), object="instagram")
    )

    async def gone() -> Any:
        got = (await client.get(f"{MESSAGES}/{target['id']}", headers=owner)).json()
        return got if got["content"].get("deleted_at") else None

    await eventually(gone, "the deletion marked")
    kinds = [m["type"] for m in await history(client, owner, channel["id"])]
    assert kinds == ["text", "reaction", "reaction", "delete"]


async def test_instagram_story_replies_and_mentions(
    worker: Path, client: AppClient, meta_graph: FakeMetaGraph
) -> None:
    _, owner, _, _ = await two_tenants(client)
    channel = await connect_meta(client, owner, "instagram", meta_graph.base_url)
    story = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1789&signature=abc"
    items = [
        story_reply(IG_ACCOUNT_ID, "Where can I buy this?", story, "17892345678901234"),
        story_mention(IG_ACCOUNT_ID, story),
    ]
    await deliver(client, channel, delivery(IG_ACCOUNT_ID, *items, object="instagram"))
    reply, mention = await messages_once(client, owner, channel["id"], 2)
    assert reply["type"] == "text" and reply["text"] == "Where can I buy this?"
    assert reply["content"]["story"] == {"type": "reply", "id": "17892345678901234", "url": story}
    assert mention["type"] == "story_mention"
    assert mention["content"]["story"] == {"type": "mention", "url": story}
    assert mention["media"] is None  # Meta forbids keeping a story's file: never copied
    assert not [s for s in meta_graph.requests if s.endpoint == "cdn"]


async def test_a_delivery_sent_again_and_concurrently_is_processed_once(
    worker: Path, client: AppClient, meta_graph: FakeMetaGraph
) -> None:
    _, owner, _, _ = await two_tenants(client)
    channel = await connect_meta(client, owner, "messenger", meta_graph.base_url)
    payload = delivery(PAGE_ID, text(PAGE_ID, "Only once please"), text(PAGE_ID, "And me"))
    answers = await asyncio.gather(*(deliver(client, channel, payload) for _ in range(5)))
    assert [a.status_code for a in answers] == [200] * 5
    await messages_once(client, owner, channel["id"], 2)
    await deliver(client, channel, payload)  # Meta's retry, later
    marker = delivery(PAGE_ID, text(PAGE_ID, "After the retry"))
    await deliver(client, channel, marker)
    found = await messages_once(client, owner, channel["id"], 3)
    assert sorted(m["text"] for m in found) == ["After the retry", "And me", "Only once please"]


async def test_sends_inside_and_outside_the_window(
    worker: Path, client: AppClient, meta_graph: FakeMetaGraph
) -> None:
    _, owner, _, _ = await two_tenants(client)
    channel = await connect_meta(client, owner, "messenger", meta_graph.base_url)
    mid = new_mid()
    await deliver(client, channel, delivery(PAGE_ID, text(PAGE_ID, "Can you help?", mid=mid)))
    [customer] = await messages_once(client, owner, channel["id"], 1)
    conversation_id = customer["conversation_id"]
    reply = {"conversation_id": conversation_id, "type": "text", "text": {"body": "Sure!"},
             "reply_to": customer["id"]}  # fmt: skip
    sent = await settled(client, owner, (await queued(client, owner, reply))["id"])
    assert sent["status"] == "sent" and sent["external_id"].startswith("m_FAKE")
    image = {"conversation_id": conversation_id, "type": "image",
             "image": {"link": "https://cdn.example.com/a.png", "caption": "This one"}}  # fmt: skip
    shown = await settled(client, owner, (await queued(client, owner, image))["id"])
    assert shown["status"] == "sent"
    text_body, image_body, caption_body = meta_graph.sends()
    assert text_body == {
        "recipient": {"id": CUSTOMER}, "messaging_type": "RESPONSE", "reply_to": {"mid": mid},
        "message": {"text": "Sure!", "metadata": sent["id"]},
    }  # fmt: skip
    assert image_body["message"]["attachment"] == {
        "type": "image", "payload": {"url": "https://cdn.example.com/a.png", "is_reusable": False},
    }  # fmt: skip
    assert caption_body["message"]["text"] == "This one"
    # Its echo changes nothing: Parley knows the mid.
    await deliver(
        client, channel, delivery(PAGE_ID, echo(PAGE_ID, "Sure!", mid=sent["external_id"]))
    )
    # One sent from Meta's own inbox joins the conversation as an outbound message.
    outside = new_mid("m_OUT")
    await deliver(
        client, channel, delivery(PAGE_ID, echo(PAGE_ID, "From the Page inbox", mid=outside))
    )
    found = await messages_once(client, owner, channel["id"], 4)
    assert len(found) == 4 and found[0]["text"] == "Can you help?"
    external = [m for m in found if m["external_id"] == outside]
    assert len(external) == 1 and external[0]["direction"] == "outbound"
    assert external[0]["sender"]["type"] == "external" and external[0]["status"] == "sent"
    assert len([m for m in found if m["external_id"] == sent["external_id"]]) == 1
    # One to a customer Parley never heard from is ignored, and leaves no identity behind.
    stranger = new_mid("m_OUT")
    await deliver(client, channel, delivery(
        PAGE_ID, echo(PAGE_ID, "Hello stranger", mid=stranger, customer="5550009999"),
    ))  # fmt: skip
    await echo_item(channel["id"], stranger, ("done",))
    identities = ContactIdentityDocument.get_pymongo_collection()
    assert await identities.count_documents({"user_id": "5550009999"}) == 0
    assert len(await history(client, owner, channel["id"])) == 4


async def test_the_human_agent_tag_extends_the_window_to_seven_days(
    worker: Path, client: AppClient, meta_graph: FakeMetaGraph
) -> None:
    _, owner, _, _ = await two_tenants(client)
    plain = await connect_meta(client, owner, "messenger", meta_graph.base_url)
    tagged = await connect_meta(
        client, owner, "instagram", meta_graph.base_url, human_agent_tag=True
    )
    assert tagged["human_agent_tag"] is True and plain["human_agent_tag"] is False
    three_days = at_ms(datetime.now(UTC) - timedelta(days=3))
    eight_days = at_ms(datetime.now(UTC) - timedelta(days=8))
    old = text(PAGE_ID, "Three days ago")
    old["timestamp"] = three_days
    await deliver(client, plain, delivery(PAGE_ID, old))
    ig_old = text(IG_ACCOUNT_ID, "Three days ago", customer="IG-3")
    ig_old["timestamp"] = three_days
    ig_older = text(IG_ACCOUNT_ID, "Eight days ago", customer="IG-8")
    ig_older["timestamp"] = eight_days
    await deliver(client, tagged, delivery(IG_ACCOUNT_ID, ig_old, ig_older, object="instagram"))
    [on_plain] = await messages_once(client, owner, plain["id"], 1)
    on_tagged = await messages_once(client, owner, tagged["id"], 2)
    by_text = {m["text"]: m["conversation_id"] for m in on_tagged}

    def reply(conversation_id: str) -> dict[str, Any]:
        return {"conversation_id": conversation_id, "type": "text", "text": {"body": "Sorry!"}}

    closed = await send(client, owner, reply(on_plain["conversation_id"]))
    assert_problem(closed, 422, "outside_customer_service_window")
    too_late = await send(client, owner, reply(by_text["Eight days ago"]))
    assert_problem(too_late, 422, "outside_customer_service_window")
    meta_graph.closed_windows.add("IG-3")  # Meta refuses it without the tag
    message = await queued(client, owner, reply(by_text["Three days ago"]))
    sent = await settled(client, owner, message["id"])
    assert sent["status"] == "sent", sent
    [body] = meta_graph.sends()
    assert body["messaging_type"] == "MESSAGE_TAG" and body["tag"] == "HUMAN_AGENT"
    assert body["recipient"] == {"id": "IG-3"} and "metadata" not in body["message"]


async def test_graph_refusals_fail_or_retry_the_message(
    worker: Path, client: AppClient, meta_graph: FakeMetaGraph
) -> None:
    _, owner, _, _ = await two_tenants(client)
    channel = await connect_meta(client, owner, "messenger", meta_graph.base_url)
    await deliver(client, channel, delivery(PAGE_ID, text(PAGE_ID, "Hi")))
    [customer] = await messages_once(client, owner, channel["id"], 1)
    body = {"conversation_id": customer["conversation_id"], "type": "text", "text": {"body": "A"}}
    meta_graph.fail("send", 2)  # transient: retried
    retried = await settled(client, owner, (await queued(client, owner, body))["id"])
    assert retried["status"] == "sent"
    meta_graph.fail("send", 551)  # the person is unavailable: permanent
    failed = await settled(client, owner, (await queued(client, owner, body))["id"])
    assert failed["status"] == "failed" and failed["error"]["code"] == 551
    meta_graph.fail("send", 190)
    refused = await settled(client, owner, (await queued(client, owner, body))["id"])
    assert refused["status"] == "failed"
    got = (await client.get(f"{CHANNELS}/{channel['id']}", headers=owner)).json()
    assert got["status"] == "token_invalid"


async def test_a_tenants_webhooks_reach_only_its_own_inbox(
    worker: Path, client: AppClient, meta_graph: FakeMetaGraph
) -> None:
    _, owner, _, beta_owner = await two_tenants(client)
    channel = await connect_meta(client, owner, "messenger", meta_graph.base_url)
    await deliver(client, channel, delivery(PAGE_ID, text(PAGE_ID, "For Acme")))
    [message] = await messages_once(client, owner, channel["id"], 1)
    assert (await client.get(f"{MESSAGES}/{message['id']}", headers=beta_owner)).status_code == 404
    theirs = await client.get("/api/v1/conversations", headers=beta_owner)
    assert theirs.json()["items"] == []
    other = await client.get(
        f"/api/v1/conversations/{message['conversation_id']}", headers=beta_owner
    )
    assert other.status_code == 404
    unknown = await client.post(
        f"{WEBHOOKS}/messenger/0123456789abcdef01234567", content=b"{}",
        headers=signed(b"{}", "x"),
    )  # fmt: skip
    assert unknown.status_code == 404


async def test_sends_by_psid_or_igsid_keep_the_window_rules(
    worker: Path, client: AppClient, meta_graph: FakeMetaGraph
) -> None:
    acme, owner, _, beta_owner = await two_tenants(client)
    messenger = await connect_meta(client, owner, "messenger", meta_graph.base_url)
    instagram = await connect_meta(
        client, owner, "instagram", meta_graph.base_url, human_agent_tag=True
    )
    await deliver(client, messenger, delivery(PAGE_ID, text(PAGE_ID, "Hello")))
    [wrote] = await messages_once(client, owner, messenger["id"], 1)
    three_days = text(IG_ACCOUNT_ID, "Three days ago", customer="178414000000003")
    three_days["timestamp"] = at_ms(datetime.now(UTC) - timedelta(days=3))
    eight_days = text(IG_ACCOUNT_ID, "Eight days ago", customer="178414000000008")
    eight_days["timestamp"] = at_ms(datetime.now(UTC) - timedelta(days=8))
    await deliver(
        client, instagram, delivery(IG_ACCOUNT_ID, three_days, eight_days, object="instagram")
    )
    await messages_once(client, owner, instagram["id"], 2)

    def to(channel: dict[str, Any], recipient: str) -> dict[str, Any]:
        return {"channel_id": channel["id"], "to": recipient, "type": "text",
                "text": {"body": "Following up"}}  # fmt: skip

    # The customer who wrote today: their conversation, a plain RESPONSE.
    message = await queued(client, owner, to(messenger, CUSTOMER))
    assert message["conversation_id"] == wrote["conversation_id"]
    assert (await settled(client, owner, message["id"]))["status"] == "sent"
    # Three days ago, on a channel with the human-agent tag: sent with the tag.
    tagged = await queued(client, owner, to(instagram, "178414000000003"))
    assert (await settled(client, owner, tagged["id"]))["status"] == "sent"
    first, second = meta_graph.sends()
    assert first["recipient"] == {"id": CUSTOMER} and first["messaging_type"] == "RESPONSE"
    assert second["recipient"] == {"id": "178414000000003"} and second["tag"] == "HUMAN_AGENT"
    contacts_before = (await client.get("/api/v1/contacts", headers=owner)).json()["items"]
    # Eight days ago, or never (no conversation, and no template exists there): refused,
    # and nothing is stored.
    for channel, recipient in (
        (instagram, "178414000000008"), (messenger, "6000000000000001"),
        (instagram, "6000000000000002"),
    ):  # fmt: skip
        refused = await send(client, owner, to(channel, recipient))
        assert_problem(refused, 422, "outside_customer_service_window")
    contacts_after = (await client.get("/api/v1/contacts", headers=owner)).json()["items"]
    assert len(contacts_after) == len(contacts_before) == 3
    # What is no PSID or IGSID: 422 saying what the channel takes.
    for channel, what in ((messenger, "PSID"), (instagram, "IGSID")):
        for bad in ("+15551234567", "US.13491208655302741918", "acme.support", "0123456"):
            refused = await send(client, owner, to(channel, bad))
            assert what in assert_problem(refused, 422, "invalid_recipient")["detail"], bad
    # Without messages:send 403; another tenant's channel 404.
    _, member = await signed_in(client, acme, owner, "member@acme.example")
    assert_problem(await send(client, member, to(messenger, CUSTOMER)), 403, "forbidden")
    assert_problem(await send(client, beta_owner, to(messenger, CUSTOMER)), 404, "not_found")
    assert len(meta_graph.sends()) == 2


def sender_actions(meta_graph: FakeMetaGraph) -> list[tuple[str, str, str, str | None]]:
    """(account, recipient, action, token) of each `sender_action` call but reactions."""
    return [
        (s.path.split("/")[-2], s.body["recipient"]["id"], s.body["sender_action"], s.token)
        for s in meta_graph.requests
        if s.endpoint == "send" and isinstance(s.body, dict)
        and s.body.get("sender_action") in ("mark_seen", "typing_on")
    ]  # fmt: skip


async def test_reading_a_conversation_marks_it_seen_at_meta(
    worker: Path, client: AppClient, meta_graph: FakeMetaGraph
) -> None:
    acme, owner, _, beta_owner = await two_tenants(client)
    messenger = await connect_meta(client, owner, "messenger", meta_graph.base_url)
    instagram = await connect_meta(client, owner, "instagram", meta_graph.base_url)
    await deliver(client, messenger, delivery(PAGE_ID, text(PAGE_ID, "Anyone there?")))
    await deliver(
        client, instagram,
        delivery(IG_ACCOUNT_ID, text(IG_ACCOUNT_ID, "Hi", customer="178414000000003"),
                 object="instagram"),
    )  # fmt: skip
    [on_messenger] = await messages_once(client, owner, messenger["id"], 1)
    [on_instagram] = await messages_once(client, owner, instagram["id"], 1)
    url = f"{CONVERSATIONS}/{on_messenger['conversation_id']}/read"
    # Refused reads reach nobody: no token 401, no inbox:write 403, another tenant 404.
    assert_problem(await client.post(url), 401, "unauthorized")
    _, member = await signed_in(client, acme, owner, "member@acme.example")
    assert_problem(await client.post(url, headers=member), 403, "forbidden")
    assert_problem(await client.post(url, headers=beta_owner), 404, "not_found")
    read = await client.post(url, headers=owner)
    assert read.status_code == 200 and read.json()["unread_count"] == 0, read.text

    async def marked(count: int) -> list[tuple[str, str, str, str | None]] | None:
        found = sender_actions(meta_graph)
        return found if len(found) >= count else None

    assert await eventually(lambda: marked(1), "mark_seen on Messenger") == [
        (PAGE_ID, CUSTOMER, "mark_seen", PAGE_TOKEN)
    ]
    # With the typing indicator (Instagram): seen, then typing.
    typing = await client.post(
        f"{CONVERSATIONS}/{on_instagram['conversation_id']}/read",
        params={"typing": "true"}, headers=owner,
    )  # fmt: skip
    assert typing.status_code == 200, typing.text
    found = await eventually(lambda: marked(3), "mark_seen and typing_on on Instagram")
    assert found[1:] == [
        (IG_ACCOUNT_ID, "178414000000003", "mark_seen", IG_TOKEN),
        (IG_ACCOUNT_ID, "178414000000003", "typing_on", IG_TOKEN),
    ]


async def echo_item(channel_id: str, mid: str, states: tuple[str, ...]) -> dict[str, Any]:
    """The echo's webhook item once it is in one of `states`."""
    raw = WebhookItemDocument.get_pymongo_collection()

    async def check() -> dict[str, Any] | None:
        found = await raw.find_one({"channel_id": channel_id, "key": f"echo:{mid}"})
        return found if found and found["state"] in states else None

    return dict(await eventually(check, f"the echo item {states}"))


async def test_an_echo_before_graphs_answer_leaves_one_outbound_message(
    worker: Path, client: AppClient, meta_graph: FakeMetaGraph
) -> None:
    """Meta posts the echo of Parley's send before it answers the send: Messenger's carries
    Parley's id back (`metadata`) and gives the queued message its mid at once; Instagram's
    carries nothing, so it waits (retried) until the answer stored the mid. Either way one
    outbound message, `sent`, with Graph's mid."""
    _, owner, _, _ = await two_tenants(client)
    for kind, account, object in (
        ("messenger", PAGE_ID, "page"), ("instagram", IG_ACCOUNT_ID, "instagram"),
    ):  # fmt: skip
        channel = await connect_meta(client, owner, kind, meta_graph.base_url)
        await deliver(client, channel, delivery(account, text(account, "Hi"), object=object))
        [customer] = await messages_once(client, owner, channel["id"], 1)
        gate = asyncio.Event()
        meta_graph.answer_gate = gate
        issued = meta_graph.issued
        body = f"Echoed first on {kind}"
        message = await queued(client, owner, {"conversation_id": customer["conversation_id"],
                                               "type": "text", "text": {"body": body}})  # fmt: skip

        async def at_graph(before: int = issued) -> bool:
            return meta_graph.issued > before

        await eventually(at_graph, "the send held at Graph")
        mid = f"m_FAKE{meta_graph.issued:012d}"  # given to the send, not yet answered
        metadata = message["id"] if kind == "messenger" else None
        echoed = delivery(account, echo(account, body, mid=mid, metadata=metadata), object=object)
        assert (await deliver(client, channel, echoed)).status_code == 200
        if kind == "messenger":  # matched by its metadata: the mid kept at once
            await echo_item(channel["id"], mid, ("done",))
            early = (await client.get(f"{MESSAGES}/{message['id']}", headers=owner)).json()
            assert early["external_id"] == mid and early["status"] == "queued", early
        else:  # not matchable yet: retried, nothing stored
            await echo_item(channel["id"], mid, ("retry", "processing"))
            assert len(await history(client, owner, channel["id"])) == 2
        gate.set()
        meta_graph.answer_gate = None
        sent = await settled(client, owner, message["id"])
        assert sent["status"] == "sent" and sent["external_id"] == mid, sent
        await echo_item(channel["id"], mid, ("done",))
        found = await history(client, owner, channel["id"])
        outbound = [m for m in found if m["direction"] == "outbound"]
        assert [(m["id"], m["external_id"], m["status"]) for m in outbound] == [
            (message["id"], mid, "sent")
        ]
        assert outbound[0]["sender"]["type"] == "agent" and len(found) == 2
