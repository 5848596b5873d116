"""Customers opt out and in themselves: an inbound text that is exactly STOP, START or one
of the tenant's keywords (source `keyword`), Meta's `user_preferences` webhook and a
marketing message failing with 131050 (source `provider`). Inbound messages find a
contact created by hand by its number; a deleted contact's number starts afresh."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import punq
from bson import ObjectId

from api.domain.messaging.channels import Channel
from api.domain.messaging.events import (
    MarketingPreference,
    MessageReceived,
    Sender,
    StatusUpdated,
)
from api.domain.messaging.messages import (
    Direction,
    Message,
    MessageRepository,
    MessageSender,
    MessageStatus,
    SenderType,
)
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.apply_message_status import ApplyMessageStatus
from api.usecases.messaging.handle_inbox_events import HandleInboxEvents
from api.usecases.messaging.receive_inbound_message import ReceiveInboundMessage
from tests.support.app import AppClient
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import events, message_event, status_event, stored_channel
from tests.support.people import audit_entries, two_tenants

CONTACTS = "/api/v1/contacts"
PROFILE = "/api/v1/tenant/profile"
BSUID = "US.13491208655302741918"


def text(body: str) -> MessageReceived:
    n = str(ObjectId())
    return message_event("text", text=body, external_id=f"wamid.{n}", key=f"message:{n}")


async def receive(container: punq.Container, event: MessageReceived, channel: Channel) -> str:
    message = await container.resolve(ReceiveInboundMessage).execute(event, channel)
    assert message is not None and message.contact_id is not None
    return message.contact_id


async def read(client: AppClient, headers: dict[str, str], contact_id: str) -> dict[str, Any]:
    response = await client.get(f"{CONTACTS}/{contact_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_keywords_opt_customers_out_and_in(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    await client.put(PROFILE, json={"default_country": "US", "opt_out_keywords": ["Parar"],
                                    "opt_in_keywords": ["volver"]}, headers=owner)  # fmt: skip
    made = await client.post(CONTACTS, json={"name": "Sheena", "phone": "(650) 555-1234",
                                             "tags": ["lead"]}, headers=owner)  # fmt: skip
    assert made.status_code == 201, made.text
    manual = made.json()

    # The customer writes: the contact created by hand is theirs (found by the number).
    contact_id = await receive(container, message_event("text"), channel)
    assert contact_id == manual["id"]
    contact = await read(client, owner, contact_id)
    assert contact["bsuid"] == BSUID and contact["wa_id"] == "16505551234"
    assert contact["channel_id"] == channel.id and contact["last_inbound_at"] is not None
    assert contact["source"] == "manual" and contact["tags"] == ["lead"]
    assert contact["opted_out"] is False

    assert await receive(container, text("Stop please"), channel) == contact_id
    assert (await read(client, owner, contact_id))["opted_out"] is False  # not exactly STOP

    stop = text("  sToP \n")
    await receive(container, stop, channel)
    contact = await read(client, owner, contact_id)
    assert contact["opted_out"] is True and contact["opt_out_source"] == "keyword"
    assert contact["opted_out_at"] == stop.timestamp.isoformat().replace("+00:00", "Z")
    await receive(container, stop, channel)  # redelivered: no second change

    await receive(container, text("START"), channel)
    contact = await read(client, owner, contact_id)
    assert contact["opted_out"] is False and contact["opt_in_source"] == "keyword"

    await receive(container, text("parar"), channel)  # the tenant's own word
    assert (await read(client, owner, contact_id))["opted_out"] is True
    await receive(container, text("PARAR"), channel)  # already out: nothing new
    await receive(container, text(" Volver "), channel)
    assert (await read(client, owner, contact_id))["opted_out"] is False

    entries = await audit_entries(client, owner, resource_type="contact")
    changes = [(e["action"], e["changes"].get("keyword")) for e in entries
               if e["action"].startswith("contact.opted")]  # fmt: skip
    assert sorted(changes) == sorted([
        ("contact.opted_out", "stop"), ("contact.opted_in", "start"),
        ("contact.opted_out", "parar"), ("contact.opted_in", "volver"),
    ])  # fmt: skip
    assert all(e["actor_id"] is None for e in entries if e["action"].startswith("contact.opted"))

    # Deleted: the customer writing again is a new contact.
    assert (await client.delete(f"{CONTACTS}/{contact_id}", headers=owner)).status_code == 204
    fresh = await receive(container, text("Hello again"), channel)
    assert fresh != contact_id
    assert (await read(client, owner, fresh))["phone"] == "+16505551234"


async def test_meta_marketing_opt_outs_reach_the_contact(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    other = await stored_channel(container, beta.tenant.id or "", graph.base_url,
                                 phone_number_id="999000999000")  # fmt: skip
    contact_id = await receive(container, message_event("text"), channel)
    theirs = await receive(container, message_event("text"), other)
    handler = container.resolve(HandleInboxEvents)

    [preference] = [e for e in events("user_preferences") if isinstance(e, MarketingPreference)]
    assert preference.value == "stop" and preference.sender.user_id == BSUID
    await handler.handle(channel, preference)
    contact = await read(client, owner, contact_id)
    assert contact["opted_out"] is True and contact["opt_out_source"] == "provider"
    assert contact["opted_out_at"] == "2024-11-15T21:22:01Z"
    assert (await read(client, beta_owner, theirs))["opted_out"] is False  # beta's own

    # A customer with no contact yet who stops: a contact, opted out, so none reaches them.
    stranger = preference.model_copy(
        update={"sender": Sender(user_id="US.99", phone="16505559999")}
    )
    await handler.handle(other, stranger)
    page = await client.get(CONTACTS, params={"opted_out": "true"}, headers=beta_owner)
    [kept] = page.json()["items"]
    assert kept["phone"] == "+16505559999" and kept["opt_out_source"] == "provider"
    assert kept["source"] == "inbound"
    resumed = stranger.model_copy(update={"value": "resume", "sender": Sender(phone="16505550000")})
    await handler.handle(other, resumed)  # nobody to opt in: nothing created
    assert len((await client.get(CONTACTS, headers=beta_owner)).json()["items"]) == 2

    await handler.handle(channel, preference.model_copy(update={"value": "resume"}))
    contact = await read(client, owner, contact_id)
    assert contact["opted_out"] is False and contact["opt_in_source"] == "provider"

    # A marketing message refused with 131050: the customer stopped marketing messages.
    [failed] = [e for e in events("status_failed_marketing_opt_out")
                if isinstance(e, StatusUpdated)]  # fmt: skip
    await sent_to(container, channel, contact_id, failed.external_id)
    await container.resolve(ApplyMessageStatus).execute(failed, channel)
    contact = await read(client, owner, contact_id)
    assert contact["opted_out"] is True and contact["opt_out_source"] == "provider"
    assert contact["opted_out_at"] == "2025-06-18T16:25:00Z"
    other_error = status_event("failed")  # 131049: a marketing limit, not an opt-out
    await sent_to(container, other, theirs, other_error.external_id)
    await container.resolve(ApplyMessageStatus).execute(other_error, other)
    assert (await read(client, beta_owner, theirs))["opted_out"] is False


async def sent_to(
    container: punq.Container, channel: Channel, contact_id: str, external_id: str
) -> None:
    assert channel.tenant_id is not None and channel.id is not None
    with tenant_context(TenantId(channel.tenant_id)):
        await container.resolve(MessageRepository).add_once(
            Message(
                conversation_id="c1", channel_id=channel.id, contact_id=contact_id,
                direction=Direction.OUTBOUND, type="template", text="Our offer",
                sender=MessageSender(type=SenderType.CAMPAIGN), status=MessageStatus.QUEUED,
                external_id=external_id, created_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )  # fmt: skip
