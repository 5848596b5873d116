"""Erasing a contact over HTTP (`POST /contacts/{id}/erase`, the right to erasure): the
contact, what they wrote, the files they sent (storage included), their campaign rows and
channel identities, in the caller's tenant only; `contacts:erase` only (not agents);
once; a media copy finishing after the erasure leaves no file behind, nor does a message
stored while it runs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import punq
from bson import ObjectId
from redis.asyncio import Redis

from api.domain.files.storage import FileRepository
from api.domain.messaging.campaigns import (
    CampaignRecipient,
    CampaignRecipientRepository,
    RecipientAddress,
    RecipientStatus,
)
from api.domain.messaging.channels import Channel
from api.domain.messaging.contacts import ContactIdentityRepository, ContactRepository
from api.domain.messaging.conversations import ConversationRepository
from api.domain.messaging.events import MessageReceived
from api.domain.messaging.messages import (
    Direction,
    MediaSink,
    Message,
    MessageRepository,
    MessageSender,
    MessageStatus,
    SenderType,
)
from api.domain.messaging.realtime import InboxEventLog
from api.domain.messaging.webhooks import WebhookEventStore
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.files.storage import FileDocument
from api.infrastructure.persistence.messaging.contacts import ContactDocument
from api.infrastructure.persistence.messaging.webhooks import WebhookEventDocument
from api.infrastructure.realtime.streams import EVENT_FIELD
from api.usecases.kernel.auditor import Auditor
from api.usecases.messaging.contact_erasure import ContactErasure
from api.usecases.messaging.copy_inbound_media import CopyInboundMedia
from api.usecases.tenants.create_tenant import CreatedTenant
from tests.e2e.operations.test_inbound_media_job import linked, png
from tests.support.app import AppClient, assert_problem
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import (
    channel_of,
    events,
    from_customer,
    outbound_message,
    receive,
    text_delivery,
)
from tests.support.leads import add_department, limited_user, new_contact, new_lead
from tests.support.meta_channels import eventually
from tests.support.meta_channels import history as channel_history
from tests.support.people import (
    audit_entries,
    signed_in,
    two_tenants,
)
from tests.support.realtime import stream_entries
from tests.support.webhook_calls import signed

CONTACTS = "/api/v1/contacts"
CONVERSATIONS = "/api/v1/conversations"
WEBHOOKS = "/api/v1/webhooks/whatsapp"
APP_SECRET = "acme-app-secret-0123456789"
NOW = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


async def image_copied(
    container: punq.Container, graph: FakeGraph, channel: Channel, customer: int, minutes: int
) -> tuple[str, str]:
    """An image from the customer, copied into the tenant's storage by the worker's job:
    (message id, file id)."""
    event = from_customer(customer, minutes, "image")
    assert event.media is not None
    graph.media[event.media.media_id] = ("image/png", png())
    message = await receive(container, event, channel)
    assert message.id is not None and channel.tenant_id is not None
    copied = await linked(container, channel.tenant_id, message.id)
    assert copied.media is not None
    return message.id, copied.media.file_id


async def image_message(container: punq.Container, channel: Channel, contact_id: str) -> Message:
    """An inbound image in the customer's conversation, stored without its copy job (the
    test copies it)."""
    assert channel.id is not None and channel.tenant_id is not None
    media = {"media_id": "media-race", "mime_type": "image/png"}
    with tenant_context(TenantId(channel.tenant_id)):
        conversations: ConversationRepository = container.resolve(ConversationRepository)
        conversation = await conversations.unresolved(channel.id, contact_id)
        assert conversation is not None
        messages: MessageRepository = container.resolve(MessageRepository)
        message, _ = await messages.add_once(
            Message(
                conversation_id=conversation.id or "", channel_id=channel.id,
                direction=Direction.INBOUND, type="image", content={"media": media},
                sender=MessageSender(type=SenderType.CONTACT, id=contact_id),
                status=MessageStatus.RECEIVED, external_id="wamid.race",
                created_at=datetime(2026, 5, 1, 9, 1, tzinfo=UTC),
            )
        )  # fmt: skip
    return message


async def stored_file(container: punq.Container, tenant_id: str, file_id: str) -> Any:
    with tenant_context(TenantId(tenant_id)):
        return await container.resolve(FileRepository).get(file_id)


async def campaign_rows(container: punq.Container, tenant_id: str, contact_id: str) -> list[Any]:
    recipients: CampaignRecipientRepository = container.resolve(CampaignRecipientRepository)
    rows = [
        CampaignRecipient(
            campaign_id="c1", run_id=run, contact_id=contact_id, seq=0, status=status,
            address=RecipientAddress(phone="+16505550001", wa_id="16505550001"),
            name="C1", variables={"1": "C1"}, updated_at=NOW,
        )
        for run, status in (("r1", RecipientStatus.SENT), ("r2", RecipientStatus.PENDING))
    ]  # fmt: skip
    with tenant_context(TenantId(tenant_id)):
        assert await recipients.add_snapshot(rows) == 2
        stored = [
            (await recipients.page("c1", run_id=run, status=None, cursor=None, limit=10)).items
            for run in ("r1", "r2")
        ]
    return [row for page in stored for row in page]


async def history(client: AppClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    [conversation] = (await client.get(CONVERSATIONS, headers=headers)).json()["items"]
    page = await client.get(f"{CONVERSATIONS}/{conversation['id']}/messages", headers=headers)
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


async def test_erasing_a_contact_takes_what_they_gave_in_that_tenant_only(
    client: AppClient,
    container: punq.Container,
    graph: FakeGraph,
    worker: Path,
    redis_client: Redis,
) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    acme_id, beta_id = acme.tenant.id or "", beta.tenant.id or ""
    channel = await channel_of(container, acme, graph, "111000111000")
    theirs = await channel_of(container, beta, graph, "222000222000")
    await receive(container, from_customer(1, 0), channel)
    message_id, file_id = await image_copied(container, graph, channel, 1, 5)
    # The same person writes to Beta too: Beta's copy of them is Beta's.
    _, beta_file = await image_copied(container, graph, theirs, 1, 6)
    [contact] = (await client.get(CONTACTS, headers=owner)).json()["items"]
    conversation_id = (await history(client, owner))[0]["conversation_id"]
    await outbound_message(container, channel, "wamid.ours", conversation_id)
    rows = await campaign_rows(container, acme_id, contact["id"])
    assert len(rows) == 2

    # Beta cannot reach Acme's contact, and erasing it there changes nothing.
    url = f"{CONTACTS}/{contact['id']}/erase"
    assert_problem(await client.post(url, headers=beta_owner), 404, "not_found")
    assert (await client.get(f"{CONTACTS}/{contact['id']}", headers=owner)).status_code == 200

    def of_conversation(entries: list[Any]) -> list[Any]:
        return [e for e in entries if conversation_id in e[1][EVENT_FIELD]]

    published = of_conversation(await stream_entries(redis_client, acme_id))
    beta_events = await stream_entries(redis_client, beta_id)
    assert published and beta_events  # the real-time log replays them to sockets

    erased = await client.post(url, headers=owner)
    assert erased.status_code == 200, erased.text
    report = erased.json()
    assert report == {
        "contact_id": contact["id"], "conversations": 1, "messages_erased": 2,
        "files_deleted": 1, "campaign_rows_erased": 2,
        "realtime_events_erased": len(published), "webhook_deliveries_erased": 0,
        "merged_contacts_erased": 0, "erased_at": report["erased_at"],
    }  # fmt: skip
    # The real-time log keeps no event of the conversation; Beta's log is untouched.
    assert of_conversation(await stream_entries(redis_client, acme_id)) == []
    assert await stream_entries(redis_client, beta_id) == beta_events

    # The contact is gone; its conversation stays with a blank summary.
    assert (await client.get(f"{CONTACTS}/{contact['id']}", headers=owner)).status_code == 404
    assert (await client.get(CONTACTS, headers=owner)).json()["items"] == []
    [conversation] = (await client.get(CONVERSATIONS, headers=owner)).json()["items"]
    assert conversation["contact"]["id"] == contact["id"]
    assert {conversation["contact"][k] for k in ("name", "phone", "wa_id", "bsuid")} == {None}
    # What they wrote is erased, the business's reply stays.
    messages = await history(client, owner)
    inbound = [m for m in messages if m["direction"] == "inbound"]
    assert len(inbound) == 2
    assert all(m["content"] == {"erased": True} and m["text"] is None for m in inbound)
    assert all(m["media"] is None for m in inbound)
    assert [m["text"] for m in messages if m["direction"] == "outbound"] == ["Our offer"]
    # The file they sent is deleted, record and bytes.
    assert await stored_file(container, acme_id, file_id) is None
    with tenant_context(TenantId(acme_id)):
        message = await container.resolve(MessageRepository).get(message_id)
    assert message is not None and message.media is None
    # Campaign rows keep status, lose the person; the pending one is skipped.
    recipients: CampaignRecipientRepository = container.resolve(CampaignRecipientRepository)
    with tenant_context(TenantId(acme_id)):
        after = {row.run_id: await recipients.get(row.id or "") for row in rows}
    sent, pending = after["r1"], after["r2"]
    assert sent is not None and pending is not None
    assert sent.status is RecipientStatus.SENT and sent.address.empty and sent.name is None
    assert sent.variables == {}
    assert pending.status is RecipientStatus.SKIPPED and pending.skip_reason == "deleted"
    # Audited with counts and no personal data.
    [entry] = await audit_entries(client, owner, action="contact.erased")
    assert entry["resource_id"] == contact["id"]
    assert entry["changes"]["reason"] == "request" and entry["changes"]["files_deleted"] == 1
    assert "16505550001" not in str(entry) and "C1" not in str(entry)

    # Once: erasing again is 404, like an unknown or malformed id.
    assert_problem(await client.post(url, headers=owner), 404, "not_found")
    unknown = await client.post(f"{CONTACTS}/{ObjectId()}/erase", headers=owner)
    assert_problem(unknown, 404, "not_found")
    assert_problem(await client.post(f"{CONTACTS}/nope/erase", headers=owner), 404, "not_found")

    # Beta's contact, messages and file are untouched.
    [beta_contact] = (await client.get(CONTACTS, headers=beta_owner)).json()["items"]
    assert beta_contact["phone"] == "+16505550001" and beta_contact["name"] == "C1"
    assert (await history(client, beta_owner))[0]["media"]["file_id"] == beta_file
    assert await stored_file(container, beta_id, beta_file) is not None

    # Writing again, the person is a new contact: nothing links them to the erased one.
    await receive(container, from_customer(1, 30), channel)
    [again] = (await client.get(CONTACTS, headers=owner)).json()["items"]
    assert again["id"] != contact["id"] and again["phone"] == "+16505550001"


async def deliver_texts(
    client: AppClient, channel: Channel, *messages: tuple[str, str, str]
) -> str:
    """A signed delivery of these text messages to the channel's webhook URL: its id."""
    body = text_delivery(channel.account_id, *messages)
    posted = await client.post(
        f"{WEBHOOKS}/{channel.id}", content=body, headers=signed(body, APP_SECRET)
    )
    assert posted.status_code == 200, posted.text
    found = await WebhookEventDocument.find_one({"body": body})
    assert found is not None
    return str(found.id)


async def deliveries_processed(ids: list[str]) -> None:
    async def all_processed() -> bool:
        found = await WebhookEventDocument.find(
            {"_id": {"$in": [ObjectId(i) for i in ids]}, "status": "processed"}
        ).count()
        return found == len(ids)

    await eventually(all_processed, f"{len(ids)} deliveries processed by the worker")


async def raw_body(event_id: str) -> bytes:
    found = await WebhookEventDocument.get(ObjectId(event_id))
    assert found is not None
    return found.body


async def test_erasure_erases_the_raw_webhook_deliveries_naming_the_person(
    client: AppClient, container: punq.Container, graph: FakeGraph, worker: Path
) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    channel = await channel_of(container, acme, graph, "111000111000", app_secret=APP_SECRET)
    theirs = await channel_of(container, beta, graph, "222000222000", app_secret=APP_SECRET)
    person, other = "16505550001", "16505550002"
    alone = await deliver_texts(client, channel, ("wamid.e1", person, "My card is 4111"))
    shared = await deliver_texts(
        client, channel, ("wamid.e2", person, "Call me"), ("wamid.e3", other, "Hello")
    )
    others = await deliver_texts(client, channel, ("wamid.e4", other, "Still there?"))
    # The same person writes to Beta: Beta's delivery is Beta's.
    beta_delivery = await deliver_texts(client, theirs, ("wamid.e5", person, "Beta here"))
    await deliveries_processed([alone, shared, others, beta_delivery])
    contacts = (await client.get(CONTACTS, headers=owner)).json()["items"]
    [contact] = [c for c in contacts if c["phone"] == f"+{person}"]

    erased = await client.post(f"{CONTACTS}/{contact['id']}/erase", headers=owner)
    assert erased.status_code == 200, erased.text
    assert erased.json()["webhook_deliveries_erased"] == 2
    # Both deliveries naming the person lost their body (the shared one too: it was
    # processed, so the other customer's message is already in the inbox).
    for event_id in (alone, shared):
        stored = await WebhookEventDocument.get(ObjectId(event_id))
        assert stored is not None and stored.body == b"" and stored.erased_at is not None
        assert stored.status == "processed"
    assert b"Still there?" in await raw_body(others)
    assert person.encode() in await raw_body(beta_delivery)
    [kept] = (await client.get(CONTACTS, headers=owner)).json()["items"]
    assert kept["phone"] == f"+{other}"
    texts = {m["text"] for m in await channel_history(client, owner, channel.id or "")}
    assert {"Hello", "Still there?"} <= texts and "My card is 4111" not in texts
    beta_contacts = (await client.get(CONTACTS, headers=beta_owner)).json()["items"]
    assert [c["phone"] for c in beta_contacts] == [f"+{person}"]

    # A number the person had before a change still names them.
    changed = await deliver_texts(client, channel, ("wamid.e6", "16505550003", "Old number"))
    await deliveries_processed([changed])
    change = await system_change(channel, "16505550003", "16505550004")
    await receive(container, change, channel)
    [moved] = [c for c in (await client.get(CONTACTS, headers=owner)).json()["items"]
               if c["phone"] == "+16505550004"]  # fmt: skip
    erased_moved = await client.post(f"{CONTACTS}/{moved['id']}/erase", headers=owner)
    assert erased_moved.json()["webhook_deliveries_erased"] == 1
    assert await raw_body(changed) == b""

    # A deleted contact's number was taken off it: its deliveries are found all the same.
    assert (await client.delete(f"{CONTACTS}/{kept['id']}", headers=owner)).status_code == 204
    deleted = await client.post(f"{CONTACTS}/{kept['id']}/erase", headers=owner)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["webhook_deliveries_erased"] == 1  # the shared one went before
    assert await raw_body(others) == b""
    assert person.encode() in await raw_body(beta_delivery)


async def system_change(channel: Channel, old: str, new: str) -> MessageReceived:
    """Meta's `user_changed_number` system message: the customer at `old` is now at `new`."""
    [event] = [e for e in events("system_user_changed_number") if isinstance(e, MessageReceived)]
    assert event.system is not None
    return event.model_copy(
        update={
            "account_id": channel.account_id, "external_id": f"wamid.change.{old}",
            "key": f"message:change.{old}",
            "sender": event.sender.model_copy(update={"phone": old, "user_id": None}),
            "system": event.system.model_copy(update={"new_phone": new}),
        }
    )  # fmt: skip


async def raw_contact(contact_id: str) -> dict[str, Any]:
    found = await ContactDocument.get_pymongo_collection().find_one({"_id": ObjectId(contact_id)})
    assert found is not None
    return dict(found)


async def test_the_contacts_merged_into_one_are_erased_with_it(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, beta_owner = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    channel = await channel_of(container, acme, graph, "111000111000")
    await receive(container, from_customer(1, 0), channel)
    [target] = (await client.get(CONTACTS, headers=owner)).json()["items"]
    # Two older records of the same person, merged in a chain: oldest into older, then
    # older into the contact that wrote.
    older = await new_contact(client, owner, phone="+14155550301", name="Ann Older")
    oldest = await new_contact(client, owner, phone="+14155550302", name="Ann Oldest")
    for into, source in ((older, oldest), (target["id"], older)):
        merged = await client.post(f"{CONTACTS}/{into}/merge",
                                   json={"source_contact_id": source}, headers=owner)  # fmt: skip
        assert merged.status_code == 200, merged.text
    assert (await raw_contact(oldest))["merged_into"] == older
    rows = await campaign_rows(container, tenant_id, older)  # runs keep the old id
    # Beta's contact of the same number is Beta's.
    theirs = await new_contact(client, beta_owner, phone="+14155550301", name="Beta's Ann")

    erased = await client.post(f"{CONTACTS}/{target['id']}/erase", headers=owner)
    assert erased.status_code == 200, erased.text
    report = erased.json()
    assert report["merged_contacts_erased"] == 2 and report["campaign_rows_erased"] == 2
    for contact_id in (older, oldest):
        stored = await raw_contact(contact_id)
        assert stored["erased_at"] is not None
        gone = ("name", "phone", "wa_id", "email", "deleted_identity")
        assert not any(stored.get(field) for field in gone), stored
    recipients: CampaignRecipientRepository = container.resolve(CampaignRecipientRepository)
    with tenant_context(TenantId(tenant_id)):
        for row in rows:
            after = await recipients.get(row.id or "")
            assert after is not None and after.address.empty and after.name is None
    # Merged contacts read as erased now; Beta's stays.
    for contact_id in (older, oldest):
        assert (await client.get(f"{CONTACTS}/{contact_id}", headers=owner)).status_code == 404
    kept = await client.get(f"{CONTACTS}/{theirs}", headers=beta_owner)
    assert kept.status_code == 200 and kept.json()["name"] == "Beta's Ann"
    [entry] = await audit_entries(client, owner, action="contact.erased")
    assert entry["changes"]["merged_contacts_erased"] == 2


async def one_customer(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> tuple[CreatedTenant, dict[str, str], Channel, dict[str, Any]]:
    """Acme (Beta exists too), its owner's headers, its WhatsApp channel and the contact
    of the one customer who wrote to it."""
    acme, owner, _, _ = await two_tenants(client)
    channel = await channel_of(container, acme, graph, "111000111000")
    await receive(container, from_customer(1, 0), channel)
    [contact] = (await client.get(CONTACTS, headers=owner)).json()["items"]
    return acme, owner, channel, contact


async def test_only_holders_of_contacts_erase_may_erase(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, contact = await one_customer(client, container, graph)
    url = f"{CONTACTS}/{contact['id']}/erase"

    assert_problem(await client.post(url), 401, "unauthorized")
    tenant_only = {"X-Tenant-ID": acme.tenant.id or ""}
    assert_problem(await client.post(url, headers=tenant_only), 401, "unauthorized")
    _, agent = await signed_in(client, acme, owner, "agent@acme.example.com", roles=["agent"])
    assert_problem(await client.post(url, headers=agent), 403, "forbidden")
    _, admin = await signed_in(client, acme, owner, "admin@acme.example.com", roles=["admin"])
    assert (await client.get(f"{CONTACTS}/{contact['id']}", headers=agent)).status_code == 200

    erased = await client.post(url, headers=admin)
    assert erased.status_code == 200, erased.text
    [entry] = await audit_entries(client, owner, action="contact.erased")
    assert entry["actor_id"] is not None and entry["changes"]["files_deleted"] == 0


async def held_image(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> tuple[str, dict[str, str], dict[str, Any], Message]:
    """Acme (its id, its owner's headers) with a customer's contact and an image of theirs
    not copied yet, whose download the fake holds: (tenant id, owner, contact, message)."""
    acme, owner, _, _ = await two_tenants(client)
    channel = await channel_of(container, acme, graph, "111000111000")
    await receive(container, from_customer(1, 0), channel)
    [contact] = (await client.get(CONTACTS, headers=owner)).json()["items"]
    message = await image_message(container, channel, contact["id"])
    graph.media["media-race"] = ("image/png", png())
    graph.holds["download"] = asyncio.Event()
    return acme.tenant.id or "", owner, contact, message


async def test_a_media_copy_finishing_after_the_erasure_leaves_no_file(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme_id, owner, contact, message = await held_image(client, container, graph)
    assert message.id is not None

    # The copy has read the message and is downloading when the contact is erased.
    with tenant_context(TenantId(acme_id)):
        copying = asyncio.create_task(container.resolve(CopyInboundMedia).execute(message.id))

    async def downloading() -> bool:
        return graph.in_flight == 1

    await eventually(downloading, "the copy to reach the download")
    erased = await client.post(f"{CONTACTS}/{contact['id']}/erase", headers=owner)
    assert erased.status_code == 200 and erased.json()["files_deleted"] == 0
    graph.holds["download"].set()

    assert await asyncio.wait_for(copying, 30) is None
    with tenant_context(TenantId(acme_id)):
        stored = await container.resolve(MessageRepository).get(message.id)
    assert stored is not None and stored.media is None and stored.content == {"erased": True}
    assert graph.calls("download") == 1  # fetched and stored, then deleted again
    left = await FileDocument.get_pymongo_collection().count_documents(
        {"tenant_id": acme_id, "owner_id": message.id}
    )
    assert left == 0


async def test_of_two_copies_at_once_one_is_linked_and_the_other_deleted(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme_id, _, _, message = await held_image(client, container, graph)
    assert message.id is not None
    copy = container.resolve(CopyInboundMedia)
    with tenant_context(TenantId(acme_id)):
        copies = [asyncio.create_task(copy.execute(message.id)) for _ in range(2)]

    async def both_downloading() -> bool:
        return graph.in_flight == 2

    await eventually(both_downloading, "both copies to reach the download")
    graph.holds["download"].set()
    first, second = await asyncio.wait_for(asyncio.gather(*copies), 30)
    assert first is not None and first == second  # both answer the one linked
    files = (
        await FileDocument.get_pymongo_collection()
        .find({"tenant_id": acme_id, "owner_id": message.id})
        .to_list()
    )
    assert [str(f["_id"]) for f in files] == [first.file_id]


async def test_a_limited_user_erases_only_contacts_of_their_departments(
    client: AppClient,
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    sam, sam_headers = await limited_user(
        client, owner, tenant_id, "sam@acme.example.com",
        ("contacts:read", "contacts:erase", "crm:read"),
    )  # fmt: skip
    sales = await add_department(tenant_id, "Sales", [sam])
    support = await add_department(tenant_id, "Support", [])
    mine = await new_contact(client, owner, phone="+14155550202", name="Mine")
    hidden = await new_contact(client, owner, phone="+14155550203", name="Hidden")
    await new_lead(client, owner, contact_id=mine, title="Ours", department_id=sales)
    await new_lead(client, owner, contact_id=hidden, title="Theirs", department_id=support)

    refused = await client.post(f"{CONTACTS}/{hidden}/erase", headers=sam_headers)
    assert_problem(refused, 403, "erasure_outside_departments")
    kept = await client.get(f"{CONTACTS}/{hidden}", headers=owner)
    assert kept.status_code == 200 and kept.json()["phone"] == "+14155550203"
    erased = await client.post(f"{CONTACTS}/{mine}/erase", headers=sam_headers)
    assert erased.status_code == 200, erased.text
    assert (await client.get(f"{CONTACTS}/{mine}", headers=owner)).status_code == 404


class LateMessage:
    """The contact's channel identities, and a message of the person stored as they are
    forgotten (step 6): its processing found the contact before the erasure took it."""

    def __init__(
        self, real: ContactIdentityRepository, container: punq.Container, channel: Channel
    ) -> None:
        self._real = real
        self._container = container
        self._channel = channel
        self.stored: Message | None = None

    async def forget_contact(self, contact_id: str) -> int:
        self.stored = await receive(self._container, from_customer(1, 10), self._channel)
        return await self._real.forget_contact(contact_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


async def test_a_message_stored_while_the_erasure_runs_is_erased_too(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, channel, contact = await one_customer(client, container, graph)
    identities = LateMessage(container.resolve(ContactIdentityRepository), container, channel)
    with tenant_context(TenantId(acme.tenant.id or "")):
        found = await container.resolve(ContactRepository).get(contact["id"])
        assert found is not None
        erasure = ContactErasure(
            container.resolve(ContactRepository),
            identities,
            container.resolve(ConversationRepository),
            container.resolve(MessageRepository),
            container.resolve(MediaSink),
            container.resolve(CampaignRecipientRepository),
            container.resolve(InboxEventLog),
            container.resolve(WebhookEventStore),
            container.resolve(Auditor),
        )
        report = await erasure.erase(found, actor_id=None, audit={})

    late = identities.stored
    assert (
        late is not None
        and late.conversation_id == (await history(client, owner))[0]["conversation_id"]
    )  # stored in the erased contact's conversation, after its messages were erased
    assert report.conversations == 1 and report.messages_erased == 2
    messages = await history(client, owner)
    assert [(m["content"], m["text"]) for m in messages] == [({"erased": True}, None)] * 2
