"""Sending end to end: `POST /messages` → the real worker's send job → the fake Graph API.

What Meta receives for each type, throughput errors retried (the fake counts the
attempts), 190 marking the channel, permanent codes failing the message with Meta's
code, retries running out, the per-number rate bucket shared by the jobs, and the read
receipt (with the typing indicator) of `POST /conversations/{id}/read`.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import punq
import pytest
from celery import Celery
from redis.asyncio import Redis

from api.domain.messaging.channels import Channel, ChannelRepository
from api.domain.messaging.realtime import InboxEvent
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.deliver_outbound_message import (
    DeliverOutboundMessage,
    DeliveryOutcome,
)
from api.usecases.messaging.sending_rules import SEND_MESSAGE_JOB, SendInProgress
from tests.support.app import AppClient
from tests.support.fake_graph import PHONE_NUMBER_ID, FakeGraph
from tests.support.files import png_bytes, uploaded
from tests.support.inbox import stored_channel
from tests.support.onboarding import onboard, owner_headers
from tests.support.realtime import published_when
from tests.support.sending import (
    CONVERSATIONS,
    customer_wrote,
    queued,
    settled,
)
from tests.support.workers import SEND_ATTEMPTS

TEMPLATE = {
    "name": "order_update",
    "language": "en_US",
    "components": [{"type": "body", "parameters": [{"type": "text", "text": "42"}]}],
}


@pytest.fixture
async def acme(
    worker: Path, client: AppClient, container: punq.Container, graph: FakeGraph
) -> tuple[dict[str, str], Channel, str]:
    """(the owner's headers, a channel on the fake, a conversation whose window is open)."""
    tenant = await onboard(client, "acme")
    channel = await stored_channel(container, tenant.tenant.id or "", graph.base_url)
    wrote = await customer_wrote(container, channel)
    return await owner_headers(client, tenant), channel, wrote.conversation_id


def sent_bodies(graph: FakeGraph) -> list[dict[str, Any]]:
    return [seen.body for seen in graph.requests if seen.endpoint == "send"]


async def test_every_type_reaches_meta_in_its_wire_format(
    client: AppClient, graph: FakeGraph, acme: tuple[dict[str, str], Channel, str]
) -> None:
    owner, _, conversation_id = acme
    history = await client.get(f"{CONVERSATIONS}/{conversation_id}/messages", headers=owner)
    [customer] = history.json()["items"]
    file = await uploaded(client, owner, png_bytes(64), "photo.png")
    interactive = {
        "type": "list", "body": {"text": "Choose"},
        "action": {"button": "Options", "sections": [
            {"title": "A", "rows": [{"id": "a1", "title": "First"}]}]},
    }  # fmt: skip
    payloads: list[dict[str, Any]] = [
        {"type": "text", "text": {"body": "Hello", "preview_url": True},
         "reply_to": customer["id"]},
        {"type": "template", "template": TEMPLATE},
        {"type": "image", "image": {"link": "https://cdn.example.com/a.png", "caption": "A"}},
        {"type": "document", "document": {"file_id": file["id"], "filename": "photo.png",
                                          "caption": "Yours"}},
        {"type": "sticker", "sticker": {"link": "https://cdn.example.com/s.webp"}},
        {"type": "location", "location": {"latitude": 52.52, "longitude": 13.405,
                                          "name": "HQ", "address": "Unter den Linden 1"}},
        {"type": "interactive", "interactive": interactive},
        {"type": "reaction", "reaction": {"message_id": customer["id"], "emoji": "\U0001f44d"}},
    ]  # fmt: skip
    ids = [
        (await queued(client, owner, {"conversation_id": conversation_id, **p}))["id"]
        for p in payloads
    ]
    done = [await settled(client, owner, message_id) for message_id in ids]
    assert {m["status"] for m in done} == {"sent"}, done
    assert all(m["external_id"].startswith("wamid.FAKE") for m in done)
    assert all("sent" in m["status_timestamps"] for m in done)
    bodies = {body["type"]: body for body in sent_bodies(graph)}
    assert len(sent_bodies(graph)) == len(payloads)
    for body in bodies.values():
        assert body["messaging_product"] == "whatsapp" and body["to"] == "16505551234"
        assert body["biz_opaque_callback_data"] in ids  # the tracker: Parley's message id
    assert bodies["text"]["text"] == {"body": "Hello", "preview_url": True}
    assert bodies["text"]["context"] == {"message_id": customer["external_id"]}
    assert bodies["template"]["template"] == {
        "name": "order_update", "language": {"code": "en_US"},
        "components": TEMPLATE["components"],
    }  # fmt: skip
    assert bodies["image"]["image"] == {"link": "https://cdn.example.com/a.png", "caption": "A"}
    document = bodies["document"]["document"]
    assert document["filename"] == "photo.png" and document["caption"] == "Yours"
    assert "/api/v1/files/download" in document["link"]  # a signed link of the stored file
    assert bodies["sticker"]["sticker"] == {"link": "https://cdn.example.com/s.webp"}
    assert bodies["location"]["location"] == {
        "latitude": 52.52, "longitude": 13.405, "name": "HQ", "address": "Unter den Linden 1",
    }  # fmt: skip
    assert bodies["interactive"]["interactive"] == interactive
    assert bodies["reaction"]["reaction"] == {
        "message_id": customer["external_id"], "emoji": "\U0001f44d",
    }  # fmt: skip
    assert (await client.delete(f"/api/v1/files/{file['id']}", headers=owner)).is_success


async def test_a_user_id_only_recipient_is_sent_by_recipient(
    worker: Path, client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    tenant = await onboard(client, "acme")
    owner = await owner_headers(client, tenant)
    channel = await stored_channel(container, tenant.tenant.id or "", graph.base_url)
    bsuid = "US.77771208655302741918"
    body = {"channel_id": channel.id, "to": bsuid, "type": "template", "template": TEMPLATE}
    message = await settled(client, owner, (await queued(client, owner, body))["id"])
    assert message["status"] == "sent"
    [wire] = sent_bodies(graph)
    assert wire["recipient"] == bsuid and "to" not in wire


async def test_throughput_errors_are_retried_until_sent(
    client: AppClient,
    graph: FakeGraph,
    acme: tuple[dict[str, str], Channel, str],
    redis_client: Redis,
) -> None:
    owner, channel, conversation_id = acme
    graph.fail("send", 130429, times=2)
    body = {"conversation_id": conversation_id, "type": "text", "text": {"body": "Persist"}}
    message = await settled(client, owner, (await queued(client, owner, body))["id"])
    assert message["status"] == "sent" and message["error"] is None
    assert graph.calls("send") == 3 and graph.failures_served == 2

    def mine(found: list[InboxEvent]) -> list[InboxEvent]:
        return [e for e in found if e.data.get("id") == message["id"]]

    settled_events = await published_when(
        redis_client, channel.tenant_id, lambda found: len(mine(found)) >= 2
    )
    events = mine(settled_events)
    assert [(e.type, e.data["status"]) for e in events] == [
        ("message.created", "queued"), ("message.updated", "sent"),
    ]  # fmt: skip
    assert events[1].data["external_id"] == message["external_id"]


async def test_transient_errors_fail_the_message_once_the_attempts_run_out(
    client: AppClient, graph: FakeGraph, acme: tuple[dict[str, str], Channel, str]
) -> None:
    owner, _, conversation_id = acme
    graph.fail("send", 131000, times=SEND_ATTEMPTS + 5)  # a 500, every time
    body = {"conversation_id": conversation_id, "type": "text", "text": {"body": "Doomed"}}
    message = await settled(client, owner, (await queued(client, owner, body))["id"])
    assert message["status"] == "failed" and message["error"]["code"] == 131000
    assert graph.calls("send") == SEND_ATTEMPTS


async def test_an_invalid_token_marks_the_channel(
    client: AppClient, graph: FakeGraph, acme: tuple[dict[str, str], Channel, str]
) -> None:
    owner, channel, conversation_id = acme
    graph.fail("send", 190)
    body = {"conversation_id": conversation_id, "type": "text", "text": {"body": "Hi"}}
    message = await settled(client, owner, (await queued(client, owner, body))["id"])
    assert message["status"] == "failed" and message["error"]["code"] == 190
    assert graph.calls("send") == 1
    read = await client.get(f"/api/v1/channels/{channel.id}", headers=owner)
    assert read.json()["status"] == "token_invalid"


@pytest.mark.parametrize("code", [131047, 131026, 131049, 131050, 131051])
async def test_permanent_codes_fail_the_message_with_metas_error(
    client: AppClient,
    graph: FakeGraph,
    acme: tuple[dict[str, str], Channel, str],
    code: int,
    redis_client: Redis,
) -> None:
    owner, channel, conversation_id = acme
    graph.fail("send", code, details=f"details of {code}")
    body = {"conversation_id": conversation_id, "type": "template", "template": TEMPLATE}
    message = await settled(client, owner, (await queued(client, owner, body))["id"])
    assert message["status"] == "failed" and message["external_id"] is None
    assert message["error"]["code"] == code and message["error"]["title"]
    assert message["error"]["details"] == f"details of {code}"
    events = await published_when(
        redis_client,
        channel.tenant_id,
        lambda found: any(e.type == "message.updated" for e in found),
    )
    [updated] = [e for e in events if e.type == "message.updated"]
    assert updated.data["status"] == "failed" and updated.data["error"]["code"] == code
    assert "failed" in message["status_timestamps"]
    assert graph.calls("send") == 1  # never retried
    # 131050: the customer stopped marketing messages, so their contact is opted out.
    conversation = await client.get(f"/api/v1/conversations/{conversation_id}", headers=owner)
    contact_id = conversation.json()["contact"]["id"]
    contact = (await client.get(f"/api/v1/contacts/{contact_id}", headers=owner)).json()
    assert contact["opted_out"] is (code == 131050)
    assert contact["opt_out_source"] == ("provider" if code == 131050 else None)


async def test_the_numbers_rate_bucket_holds_across_jobs(
    client: AppClient,
    container: punq.Container,
    graph: FakeGraph,
    acme: tuple[dict[str, str], Channel, str],
) -> None:
    owner, channel, conversation_id = acme
    rate, count = 2, 7
    with tenant_context(TenantId(channel.tenant_id or "")):
        await container.resolve(ChannelRepository).replace(
            channel.model_copy(update={"messages_per_second": rate})
        )
    body = {"conversation_id": conversation_id, "type": "text", "text": {"body": "Go"}}
    started = time.monotonic()  # the fake Graph's clock; before any token is taken
    ids = [(await queued(client, owner, body))["id"] for _ in range(count)]
    done = await asyncio.gather(*(settled(client, owner, i) for i in ids))
    assert {m["status"] for m in done} == {"sent"}
    arrivals = sorted(seen.at for seen in graph.requests if seen.endpoint == "send")
    # A full bucket (`rate` tokens) goes at once; every further send waits 1/rate s. A busy
    # machine only delays arrivals, so each is bounded from below by its earliest turn
    # counted from before the first send (never from the first arrival, which may be late).
    for k, arrived in enumerate(arrivals):
        assert arrived - started >= max(0, k + 1 - rate) / rate - 0.05, (k, arrivals)


async def test_mark_read_sends_a_read_receipt_with_typing(
    client: AppClient,
    container: punq.Container,
    graph: FakeGraph,
    acme: tuple[dict[str, str], Channel, str],
) -> None:
    owner, channel, conversation_id = acme
    last = await customer_wrote(container, channel, n=7)
    read = await client.post(
        f"{CONVERSATIONS}/{conversation_id}/read", params={"typing": "true"}, headers=owner
    )
    assert read.status_code == 200, read.text
    await client.post(f"{CONVERSATIONS}/{conversation_id}/read", headers=owner)
    deadline = time.monotonic() + 60
    while graph.calls("mark_read") < 2:
        assert time.monotonic() < deadline, "the read receipts were not sent in time"
        await asyncio.sleep(0.1)
    receipts = sorted(
        (seen.body for seen in graph.requests if seen.endpoint == "mark_read"),
        key=lambda b: "typing_indicator" not in b,
    )
    assert len(receipts) == 2
    for receipt in receipts:
        assert receipt["status"] == "read" and receipt["message_id"] == last.external_id
    assert receipts[0]["typing_indicator"] == {"type": "text"}
    assert "typing_indicator" not in receipts[1]
    assert {s.path for s in graph.requests if s.endpoint == "mark_read"} == {
        f"/v26.0/{PHONE_NUMBER_ID}/messages"
    }


async def test_a_send_job_delivered_again_calls_meta_once_and_stores_no_result(
    client: AppClient,
    graph: FakeGraph,
    acme: tuple[dict[str, str], Channel, str],
    worker: Path,
    celery_client: Celery,
) -> None:
    """The send job has no idempotency key of its own: its claim on the message is what
    makes it send once. The same job handed out again after it sent (as after a lost
    ack), twice, finds the message settled; and no result of it is stored."""
    owner, channel, conversation_id = acme
    body = {"conversation_id": conversation_id, "type": "text", "text": {"body": "Again"}}
    message_id = (await queued(client, owner, body))["id"]
    assert (await settled(client, owner, message_id))["status"] == "sent"
    job_id = f"again-{message_id}"
    for _ in range(2):
        await asyncio.to_thread(
            celery_client.send_task, SEND_MESSAGE_JOB, kwargs={"message_id": message_id},
            headers={"parley_tenant_id": channel.tenant_id}, task_id=job_id,
        )  # fmt: skip
    done = f"{SEND_MESSAGE_JOB}[{job_id}] succeeded"
    deadline = time.monotonic() + 30
    while (await asyncio.to_thread(worker.read_text)).count(done) < 2:
        assert time.monotonic() < deadline, "the job delivered again did not run twice"
        await asyncio.sleep(0.1)
    assert graph.calls("send") == 1
    assert celery_client.AsyncResult(job_id).state == "PENDING"  # nothing stored


async def test_runs_of_one_send_at_once_call_meta_once(
    client: AppClient,
    container: punq.Container,
    graph: FakeGraph,
    acme: tuple[dict[str, str], Channel, str],
) -> None:
    owner, channel, conversation_id = acme
    graph.delay_seconds = 0.3  # the first run is still waiting for Meta when the others come
    body = {"conversation_id": conversation_id, "type": "text", "text": {"body": "Once"}}
    message_id = (await queued(client, owner, body))["id"]  # the worker's run
    deliver: DeliverOutboundMessage = container.resolve(DeliverOutboundMessage)
    with tenant_context(TenantId(channel.tenant_id or "")):
        outcomes = await asyncio.gather(
            *(deliver.execute(message_id, final_attempt=False) for _ in range(3)),
            return_exceptions=True,
        )
    assert all(isinstance(o, DeliveryOutcome | SendInProgress) for o in outcomes), outcomes
    message = await settled(client, owner, message_id)
    assert message["status"] == "sent"
    assert graph.calls("send") == 1
