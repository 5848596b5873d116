"""`POST /messages` over HTTP, up to the queued message (the job's side is in
`test_send_jobs.py`): targets, every type's validation, `messages:send`, tenant
isolation, the 24-hour window on a controlled clock, idempotency keys (also concurrent)."""

from __future__ import annotations

import asyncio
from typing import Any

import punq
import pytest
from bson import ObjectId
from redis.asyncio import Redis

from api.common.clock import utcnow
from api.domain.messaging.channels import Channel, ChannelRepository, ChannelStatus
from api.domain.messaging.messages import (
    Direction,
    Message,
    MessageRepository,
    MessageSender,
    MessageStatus,
    SenderType,
)
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.deliver_outbound_message import (
    DeliverOutboundMessage,
    DeliveryOutcome,
)
from tests.fakes.clock import FakeUtcClock
from tests.support.app import AppClient, assert_problem
from tests.support.fake_graph import FakeGraph
from tests.support.files import png_bytes, uploaded
from tests.support.inbox import stored_channel
from tests.support.people import signed_in, two_tenants
from tests.support.realtime import published
from tests.support.sending import (
    CONVERSATIONS,
    CUSTOMER_BSUID,
    MESSAGES,
    customer_wrote,
    queued,
    send,
    use_clock,
)

TEMPLATE = {"name": "order_update", "language": "en_US", "components": []}


async def acme_with_conversation(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> tuple[Any, dict[str, str], Any, dict[str, str], Channel, str]:
    acme, owner, beta, beta_owner = await two_tenants(client)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    inbound = await customer_wrote(container, channel)
    return acme, owner, beta, beta_owner, channel, inbound.conversation_id


async def unsent_message(
    container: punq.Container, channel: Channel, conversation_id: str, **content: Any
) -> Message:
    """A queued outbound message stored without its job (nothing sends it)."""
    assert channel.id is not None
    messages: MessageRepository = container.resolve(MessageRepository)
    with tenant_context(TenantId(channel.tenant_id or "")):
        message, _ = await messages.add_once(
            Message(
                conversation_id=conversation_id, channel_id=channel.id,
                direction=Direction.OUTBOUND, type=content.get("media_kind", "text"),
                content=content or {"kind": "text", "body": "Unsent"},
                sender=MessageSender(type=SenderType.AGENT), status=MessageStatus.QUEUED,
                created_at=utcnow(),
            )
        )  # fmt: skip
    assert message.id is not None
    return message


async def test_a_text_reply_is_queued_and_moves_the_conversation(
    client: AppClient, container: punq.Container, graph: FakeGraph, redis_client: Redis
) -> None:
    acme, owner, _, _, _, conversation_id = await acme_with_conversation(client, container, graph)
    body = {"conversation_id": conversation_id, "type": "text", "text": {"body": "Hi Sheena!"}}
    before = len(await published(redis_client, acme.tenant.id))
    message = await queued(client, owner, body)
    events = [  # (a worker running in the session may add `message.updated`: not this test's)
        e for e in (await published(redis_client, acme.tenant.id))[before:]
        if e.type != "message.updated"
    ]  # fmt: skip
    assert [(e.type, e.data["id"]) for e in events] == [
        ("message.created", message["id"]), ("conversation.updated", conversation_id),
    ]  # fmt: skip
    assert events[0].data["status"] == "queued" and events[0].conversation_id == conversation_id
    assert message["direction"] == "outbound" and message["type"] == "text"
    assert message["text"] == "Hi Sheena!" and message["external_id"] is None
    assert message["sender"] == {"type": "agent", "id": acme.owner.id}
    assert message["conversation_id"] == conversation_id and message["error"] is None
    again = (await client.get(f"{MESSAGES}/{message['id']}", headers=owner)).json()
    sending = {"status", "status_timestamps", "external_id"}  # what a running worker changes
    assert {k: v for k, v in again.items() if k not in sending} == {
        k: v for k, v in message.items() if k not in sending
    }
    conversation = (await client.get(f"{CONVERSATIONS}/{conversation_id}", headers=owner)).json()
    assert conversation["last_message_at"] == message["created_at"]
    assert conversation["first_reply_at"] == message["created_at"]
    await queued(client, owner, body)
    later = (await client.get(f"{CONVERSATIONS}/{conversation_id}", headers=owner)).json()
    assert later["first_reply_at"] == message["created_at"]  # the first reply only
    assert later["last_message_at"] > message["created_at"]


@pytest.mark.parametrize("to", ["+15550001111", "US.99991208655302741918"])
async def test_a_template_to_a_new_recipient_opens_a_conversation(
    client: AppClient, container: punq.Container, graph: FakeGraph, to: str, redis_client: Redis
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    body = {"channel_id": channel.id, "to": to, "type": "template", "template": TEMPLATE}
    message = await queued(client, owner, body)
    assert message["type"] == "template" and message["content"]["name"] == "order_update"
    events = await published(redis_client, acme.tenant.id)
    assert [e.type for e in events if e.type != "message.updated"] == [
        "message.created", "conversation.created",
    ]  # fmt: skip
    [conversation] = (await client.get(CONVERSATIONS, headers=owner)).json()["items"]
    assert conversation["id"] == message["conversation_id"]
    assert conversation["unread_count"] == 0 and conversation["window_expires_at"] is None
    if to.startswith("+"):
        assert conversation["contact"]["phone"] == to and conversation["contact"]["bsuid"] is None
    else:
        assert conversation["contact"]["bsuid"] == to and conversation["contact"]["phone"] is None
    second = await queued(client, owner, body)  # the same contact and conversation again
    assert second["conversation_id"] == message["conversation_id"]


async def test_by_channel_and_phone_joins_the_customers_conversation(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    _, owner, _, _, channel, conversation_id = await acme_with_conversation(
        client, container, graph
    )
    for to in ("+16505551234", CUSTOMER_BSUID):
        body = {"channel_id": channel.id, "to": to, "type": "text", "text": {"body": "Hello"}}
        assert (await queued(client, owner, body))["conversation_id"] == conversation_id


@pytest.mark.parametrize(
    ("payload", "stored_type", "check"),
    [
        ({"type": "image", "image": {"link": "https://cdn.example.com/a.png", "caption": "Look"}},
         "image", lambda m: m["text"] == "Look" and m["content"]["link"].endswith("a.png")),
        ({"type": "document", "document": {"link": "https://cdn.example.com/a.pdf",
                                           "filename": "a.pdf"}},
         "document", lambda m: m["content"]["filename"] == "a.pdf"),
        ({"type": "location", "location": {"latitude": 52.52, "longitude": 13.4, "name": "HQ"}},
         "location", lambda m: m["content"]["latitude"] == 52.52),
        ({"type": "interactive", "interactive": {
            "type": "button", "body": {"text": "Pick one"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Yes"}}]}}},
         "interactive", lambda m: m["content"]["interactive"]["type"] == "button"),
    ],
)  # fmt: skip
async def test_every_type_is_stored_queued(
    client: AppClient,
    container: punq.Container,
    graph: FakeGraph,
    payload: dict[str, Any],
    stored_type: str,
    check: Any,
) -> None:
    _, owner, _, _, _, conversation_id = await acme_with_conversation(client, container, graph)
    message = await queued(client, owner, {"conversation_id": conversation_id, **payload})
    assert message["type"] == stored_type and check(message)


async def test_a_stored_file_is_linked_and_another_tenants_is_404(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    _, owner, _, beta_owner, _, conversation_id = await acme_with_conversation(
        client, container, graph
    )
    file = await uploaded(client, owner, png_bytes(64), "photo.png")
    body = {"conversation_id": conversation_id, "type": "image", "image": {"file_id": file["id"]}}
    message = await queued(client, owner, body)
    assert message["media"]["file_id"] == file["id"]
    assert message["media"]["content_type"] == "image/png"
    beta_file = await uploaded(client, beta_owner, png_bytes(64), "theirs.png")
    body["image"] = {"file_id": beta_file["id"]}
    assert_problem(await send(client, owner, body), 404, "not_found")
    for headers, found in ((owner, file), (beta_owner, beta_file)):
        assert (await client.delete(f"/api/v1/files/{found['id']}", headers=headers)).is_success


async def test_replies_and_reactions_name_sent_messages_of_the_conversation(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    _, owner, _, _, channel, conversation_id = await acme_with_conversation(
        client, container, graph
    )
    history = await client.get(f"{CONVERSATIONS}/{conversation_id}/messages", headers=owner)
    [customer] = history.json()["items"]
    reply = await queued(client, owner, {
        "conversation_id": conversation_id, "type": "text", "text": {"body": "Sure"},
        "reply_to": customer["id"],
    })  # fmt: skip
    assert reply["reply_to_id"] == customer["id"]
    reaction = await queued(client, owner, {
        "conversation_id": conversation_id, "type": "reaction",
        "reaction": {"message_id": customer["id"], "emoji": "\U0001f44d"},
    })  # fmt: skip
    assert reaction["type"] == "reaction"
    assert reaction["content"]["target_external_id"] == customer["external_id"]
    unsent = await unsent_message(container, channel, conversation_id)  # no job sends it
    not_sent = await send(client, owner, {
        "conversation_id": conversation_id, "type": "reaction",
        "reaction": {"message_id": unsent.id, "emoji": "\U0001f44d"},
    })  # fmt: skip
    assert_problem(not_sent, 422, "target_not_sent")
    other = await customer_wrote(container, channel, phone="16505559999", bsuid="US.55551234")
    elsewhere = await send(client, owner, {
        "conversation_id": conversation_id, "type": "text", "text": {"body": "x"},
        "reply_to": other.id,
    })  # fmt: skip
    assert_problem(elsewhere, 404, "not_found")


async def test_sending_needs_messages_send(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _, _, conversation_id = await acme_with_conversation(client, container, graph)
    body = {"conversation_id": conversation_id, "type": "text", "text": {"body": "Hi"}}
    assert_problem(await client.post(MESSAGES, json=body), 401, "unauthorized")
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    assert_problem(await send(client, member, body), 403, "forbidden")
    _, agent = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    assert (await queued(client, agent, body))["sender"]["type"] == "agent"


async def test_another_tenants_conversation_channel_and_message_are_404(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    _, owner, _, beta_owner, channel, conversation_id = await acme_with_conversation(
        client, container, graph
    )
    text = {"type": "text", "text": {"body": "Hi"}}
    by_conversation = await send(client, beta_owner, {"conversation_id": conversation_id, **text})
    assert_problem(by_conversation, 404, "not_found")
    by_channel = await send(
        client,
        beta_owner,
        {"channel_id": channel.id, "to": "+15550001111", "type": "template", "template": TEMPLATE},
    )
    assert_problem(by_channel, 404, "not_found")
    mine = await queued(client, owner, {"conversation_id": conversation_id, **text})
    assert_problem(await client.get(f"{MESSAGES}/{mine['id']}", headers=beta_owner), 404,
                   "not_found")  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"type": "text", "text": {"body": "x"}}, "invalid_input"),  # no target
        ({"conversation_id": "c", "channel_id": "x", "to": "+15550001111", "type": "text",
          "text": {"body": "x"}}, "invalid_input"),
        ({"channel_id": "x", "type": "text", "text": {"body": "x"}}, "invalid_input"),
        ({"conversation_id": "c", "type": "text"}, "invalid_input"),
        ({"conversation_id": "c", "type": "text", "text": {"body": ""}}, "invalid_input"),
        ({"conversation_id": "c", "type": "text", "text": {"body": "x"},
          "template": TEMPLATE}, "invalid_input"),
        ({"conversation_id": "c", "type": "fax", "fax": {}}, "invalid_input"),
        ({"conversation_id": "c", "type": "image", "image": {}}, "invalid_input"),
        ({"conversation_id": "c", "type": "image",
          "image": {"file_id": "f", "link": "https://x.example.com/a.png"}}, "invalid_input"),
        ({"conversation_id": "c", "type": "image", "image": {"link": "ftp://x/a.png"}},
         "invalid_input"),
        ({"conversation_id": "c", "type": "location", "location": {"latitude": 91,
                                                                   "longitude": 0}},
         "invalid_input"),
        ({"conversation_id": "c", "type": "interactive",
          "interactive": {"type": "button", "body": {"text": "x"}}}, "invalid_input"),
        ({"conversation_id": "c", "type": "interactive",
          "interactive": {"type": "carousel", "action": {}}}, "invalid_input"),
        ({"conversation_id": "c", "type": "interactive",
          "interactive": {"type": "list", "action": {"sections": []}}}, "invalid_input"),
        ({"conversation_id": "c", "type": "text", "text": {"body": "x"}, "sender": "me"},
         "invalid_input"),
    ],
)  # fmt: skip
async def test_bad_bodies_are_422(
    client: AppClient, container: punq.Container, graph: FakeGraph, body: dict[str, Any],
    code: str,
) -> None:  # fmt: skip
    _, owner, _, _ = await two_tenants(client)
    problem = assert_problem(await send(client, owner, body), 422, code)
    assert problem["errors"]


async def test_a_recipient_that_is_no_number_nor_user_id_is_422(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    for to in ("5550001111", "+1-555-000", "someone@example.com"):
        body = {"channel_id": channel.id, "to": to, "type": "template", "template": TEMPLATE}
        assert_problem(await send(client, owner, body), 422, "invalid_recipient")


async def test_a_channel_whose_token_stopped_working_cannot_send(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _, channel, conversation_id = await acme_with_conversation(
        client, container, graph
    )
    with tenant_context(TenantId(acme.tenant.id or "")):
        await container.resolve(ChannelRepository).replace(
            channel.model_copy(update={"status": ChannelStatus.TOKEN_INVALID})
        )
    body = {"conversation_id": conversation_id, "type": "text", "text": {"body": "Hi"}}
    assert_problem(await send(client, owner, body), 409, "channel_unavailable")


async def test_the_window_closes_24_hours_after_the_customer_wrote(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    clock = FakeUtcClock()
    use_clock(container, clock)
    acme, owner, _, _ = await two_tenants(client)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    wrote = await customer_wrote(container, channel, clock.now())
    text = {"conversation_id": wrote.conversation_id, "type": "text", "text": {"body": "Hi"}}
    clock.advance(hours=23, minutes=59)
    await queued(client, owner, text)
    clock.advance(minutes=1)
    closed = await send(client, owner, text)
    assert_problem(closed, 422, "outside_customer_service_window")
    for payload in (
        {"type": "image", "image": {"link": "https://cdn.example.com/a.png"}},
        {
            "type": "interactive",
            "interactive": {
                "type": "location_request_message",
                "body": {"text": "Where?"},
                "action": {"name": "send_location"},
            },
        },
    ):
        refused = await send(client, owner, {"conversation_id": wrote.conversation_id, **payload})
        assert_problem(refused, 422, "outside_customer_service_window")
    history = await client.get(f"{CONVERSATIONS}/{wrote.conversation_id}/messages", headers=owner)
    assert len(history.json()["items"]) == 2  # the customer's and the one inside the window
    template = {"conversation_id": wrote.conversation_id, "type": "template", "template": TEMPLATE}
    await queued(client, owner, template)
    await customer_wrote(container, channel, clock.now(), n=2)  # the customer answers
    await queued(client, owner, text)


async def test_the_window_is_the_customers_after_their_conversation_is_resolved(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    clock = FakeUtcClock()
    use_clock(container, clock)
    acme, owner, _, beta_owner = await two_tenants(client)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    wrote = await customer_wrote(container, channel, clock.now())
    old = wrote.conversation_id
    resolved = await client.post(f"{CONVERSATIONS}/{old}/resolve", headers=owner)
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    clock.advance(hours=23)
    text = {"channel_id": channel.id, "to": "+16505551234", "type": "text",
            "text": {"body": "One more thing"}}  # fmt: skip
    # another tenant's channel stays unknown, window or not
    assert_problem(await send(client, beta_owner, text), 404, "not_found")
    message = await queued(client, owner, text)
    new = message["conversation_id"]
    assert new != old
    before = (await client.get(f"{CONVERSATIONS}/{old}", headers=owner)).json()
    opened = (await client.get(f"{CONVERSATIONS}/{new}", headers=owner)).json()
    assert opened["status"] == "open" and opened["unread_count"] == 0
    assert opened["window_expires_at"] == before["window_expires_at"]
    assert opened["last_inbound_at"] == before["last_inbound_at"]
    clock.advance(minutes=59)
    by_id = {"conversation_id": new, "type": "text", "text": {"body": "Still there?"}}
    assert (await queued(client, owner, by_id))["conversation_id"] == new
    clock.advance(minutes=1)  # 24 hours after the customer wrote: closed, by `to` and by id
    assert_problem(await send(client, owner, by_id), 422, "outside_customer_service_window")
    assert (await client.post(f"{CONVERSATIONS}/{new}/resolve", headers=owner)).status_code == 200
    assert_problem(await send(client, owner, text), 422, "outside_customer_service_window")
    history = await client.get(f"{CONVERSATIONS}/{new}/messages", headers=owner)
    assert len(history.json()["items"]) == 2


async def test_free_form_to_a_new_recipient_stores_nothing(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    body = {"channel_id": channel.id, "to": "+15550001111", "type": "text", "text": {"body": "x"}}
    assert_problem(await send(client, owner, body), 422, "outside_customer_service_window")
    assert (await client.get(CONVERSATIONS, headers=owner)).json()["items"] == []


async def test_an_idempotency_key_answers_the_same_message(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    _, owner, _, beta_owner, _, conversation_id = await acme_with_conversation(
        client, container, graph
    )
    body = {"conversation_id": conversation_id, "type": "text", "text": {"body": "Once"}}
    first = await send(client, owner, body, key="key-1")
    again = await send(client, owner, body, key="key-1")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    other = {**body, "text": {"body": "Twice"}}
    assert_problem(await send(client, owner, other, key="key-1"), 422, "idempotency_key_reused")
    # Keys are per tenant: beta's key-1 is its own.
    beta_channel = await stored_channel(
        container, beta_owner["X-Tenant-ID"], graph.base_url, phone_number_id="999000999000"
    )
    beta_body = {"channel_id": beta_channel.id, "to": "+15550001111", "type": "template",
                 "template": TEMPLATE}  # fmt: skip
    beta_first = await send(client, beta_owner, beta_body, key="key-1")
    assert beta_first.status_code == 202 and beta_first.json()["id"] != first.json()["id"]
    history = await client.get(f"{CONVERSATIONS}/{conversation_id}/messages", headers=owner)
    assert [m["text"] for m in history.json()["items"]].count("Once") == 1


async def test_concurrent_retries_with_one_key_make_one_message(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    _, owner, _, _, _, conversation_id = await acme_with_conversation(client, container, graph)
    body = {"conversation_id": conversation_id, "type": "text", "text": {"body": "Burst"}}
    answers = await asyncio.gather(*(send(client, owner, body, key="burst") for _ in range(8)))
    assert {a.status_code for a in answers} == {202}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(1 for a in answers if "idempotent-replayed" not in a.headers) == 1
    history = await client.get(f"{CONVERSATIONS}/{conversation_id}/messages", headers=owner)
    assert [m["text"] for m in history.json()["items"]].count("Burst") == 1


async def test_openapi_documents_sending(client: AppClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/messages"]["post"]
    assert "202" in operation["responses"]
    unprocessable = operation["responses"]["422"]["description"]
    for code in ("outside_customer_service_window", "idempotency_key_reused", "invalid_recipient"):
        assert code in unprocessable
    assert "channel_unavailable" in operation["responses"]["409"]["description"]
    parameters = {p["name"] for p in operation["parameters"]}
    assert "Idempotency-Key" in parameters
    read = document["paths"]["/api/v1/conversations/{conversation_id}/read"]["post"]
    assert {"401", "403", "404"} <= set(read["responses"])


async def test_a_file_deleted_before_the_send_fails_the_message(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, _, _, _, channel, conversation_id = await acme_with_conversation(client, container, graph)
    message = await unsent_message(
        container, channel, conversation_id, kind="media", media_kind="image",
        file_id=str(ObjectId()),
    )  # fmt: skip
    assert message.id is not None
    with tenant_context(TenantId(acme.tenant.id or "")):
        messages: MessageRepository = container.resolve(MessageRepository)
        deliver: DeliverOutboundMessage = container.resolve(DeliverOutboundMessage)
        assert await deliver.execute(message.id, final_attempt=False) is DeliveryOutcome.FAILED
        failed = await messages.get(message.id)
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None and failed.error.title == "File not found."
    assert graph.calls("send") == 0
