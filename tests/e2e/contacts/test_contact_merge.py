"""Merging contacts (`POST /contacts/{id}/merge`): everything of the source moves to the
target (conversations, messages, leads, tickets, meetings; tags, attributes, ids, channels,
consent), the target wins conflicts, the source answers 404 `contact_merged`; a repeat is
409, concurrent merges of one pair have one winner and lose nothing, a merge stopped
half-way completes when sent again; tenants, permissions and departments hold."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import punq
from redis.asyncio import Redis

from api.domain.messaging.channels import ChannelType
from api.domain.messaging.contacts import ContactRepository
from api.domain.tenancy import TenantId, tenant_context
from tests.support.app import AppClient, assert_problem
from tests.support.callbacks import STAFF, submit
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import receive, stored_channel
from tests.support.leads import LEADS, add_department, limited_user, new_contact, new_lead
from tests.support.meetings import create_meeting
from tests.support.merges import (
    CONTACTS,
    CONVERSATIONS,
    channel_of_type,
    customer_on,
    merge,
    written,
)
from tests.support.people import (
    audit_entries,
    create_role,
    signed_in,
    two_tenants,
)
from tests.support.realtime import published_when

TICKETS = "/api/v1/tickets"


async def read(client: AppClient, headers: dict[str, str], url: str) -> dict[str, Any]:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def patch(client: AppClient, headers: dict[str, str], contact: str, **body: Any) -> None:
    response = await client.patch(f"{CONTACTS}/{contact}", json=body, headers=headers)
    assert response.status_code == 200, response.text


async def test_a_merge_moves_everything_and_the_target_wins(
    client: AppClient, container: punq.Container, graph: FakeGraph, redis_client: Redis
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    whatsapp = await stored_channel(container, tenant_id, graph.base_url)
    telegram = await channel_of_type(container, tenant_id, graph.base_url,
                                     ChannelType.TELEGRAM, "900001")  # fmt: skip
    target, target_conversation = await customer_on(container, whatsapp, "US.1", "16505550001",
                                                     "Ann")  # fmt: skip
    source, source_conversation = await customer_on(container, telegram, "TG.1", None, "Annie")
    await receive(container, written("TG.1", None, "Annie", "Second"), telegram)
    await patch(client, owner, target, email="ann@example.com", tags=["vip"],
                attributes={"plan": "gold", "city": "Rome"})  # fmt: skip
    await patch(client, owner, source, email="ANN@example.com", tags=["telegram", "vip"],
                attributes={"plan": "silver", "lang": "it"}, language="it")  # fmt: skip
    opted = await client.post(f"{CONTACTS}/{source}/opt-out", headers=owner)
    assert opted.status_code == 200, opted.text
    lead = await new_lead(client, owner, contact_id=source, title="Deal")
    ticket = await client.post(TICKETS, json={"contact_id": source, "subject": "Help",
                                              "priority": "normal"}, headers=owner)  # fmt: skip
    assert ticket.status_code == 201, ticket.text
    meeting = await create_meeting(client, owner, source, datetime(2030, 3, 4, 9, tzinfo=UTC))

    before = await read(client, owner, f"{CONTACTS}/{source}")
    assert before["channel_types"] == ["telegram"]
    assert before["channels"] == [{"channel_id": telegram.id, "channel_type": "telegram"}]
    candidates = await read(client, owner, f"{CONTACTS}/{target}/merge-candidates")
    assert [(c["id"], c["matched_on"]) for c in candidates["items"]] == [(source, ["email"])]

    merged = await merge(client, owner, target, source)

    contact = merged["contact"]
    assert contact["id"] == target and merged["source_contact_id"] == source
    assert contact["phone"] == "+16505550001" and contact["bsuid"] == "US.1"
    assert contact["email"] == "ann@example.com" and contact["name"] == "Ann"
    assert contact["language"] == "it"  # the target had none
    assert contact["tags"] == ["vip", "telegram"]
    assert contact["attributes"] == {"plan": "gold", "city": "Rome", "lang": "it"}
    assert contact["opted_out"] is True and contact["opt_out_source"] == "manual"
    assert contact["channel_types"] == ["whatsapp", "telegram"]
    assert {c["channel_id"] for c in contact["channels"]} == {whatsapp.id, telegram.id}
    assert sorted(merged["kept_from_target"]) == ["attributes.plan", "email", "name"]
    assert merged["moved"] == {
        "conversations": [source_conversation], "resolved_conversations": [], "messages": 2,
        "leads": 1, "tickets": 1, "meetings": 1, "callback_requests": 0,
        "channel_identities": 1,
    }  # fmt: skip

    gone = await client.get(f"{CONTACTS}/{source}", headers=owner)
    assert assert_problem(gone, 404, "contact_merged")["merged_into"] == target
    listed = await read(client, owner, CONTACTS)
    assert [c["id"] for c in listed["items"]] == [target]
    conversation = await read(client, owner, f"{CONVERSATIONS}/{source_conversation}")
    assert conversation["contact"]["id"] == target and conversation["channel_type"] == "telegram"
    assert conversation["status"] == "open"
    history = await read(client, owner, f"{CONVERSATIONS}/{source_conversation}/messages")
    assert [m["sender"]["id"] for m in history["items"]] == [target, target]
    mine = await read(client, owner, f"{CONVERSATIONS}?q=Ann")
    assert {c["id"] for c in mine["items"]} == {target_conversation, source_conversation}
    assert (await read(client, owner, f"{LEADS}/{lead['id']}"))["contact_id"] == target
    read_ticket = await read(client, owner, f"{TICKETS}/{ticket.json()['id']}")
    assert read_ticket["contact_id"] == target
    assert (await read(client, owner, f"/api/v1/meetings/{meeting['id']}"))["contact_id"] == target

    [entry] = await audit_entries(client, owner, action="contact.merged")
    assert entry["resource_id"] == target
    assert entry["changes"]["source_contact_id"] == source
    assert entry["changes"]["moved"]["leads"] == 1
    events = await published_when(redis_client, tenant_id, lambda es: any(
        e.type == "conversation.updated" and e.conversation_id == source_conversation
        for e in es))  # fmt: skip
    updated = [e.data for e in events if e.type == "conversation.updated"
               and e.conversation_id == source_conversation]  # fmt: skip
    assert updated[-1]["contact"]["id"] == target

    again = await client.post(f"{CONTACTS}/{target}/merge", json={"source_contact_id": source},
                              headers=owner)  # fmt: skip
    assert assert_problem(again, 409, "already_merged")["merged_into"] == target
    # The customer writing again, on either channel, is the target, in the same threads.
    again_on_telegram = await receive(container, written("TG.1", None, "Annie", "3"), telegram)
    assert again_on_telegram.contact_id == target
    assert again_on_telegram.conversation_id == source_conversation
    again_on_whatsapp = await receive(container, written("US.1", "16505550001", "Ann", "4"),
                                      whatsapp)  # fmt: skip
    assert again_on_whatsapp.conversation_id == target_conversation
    assert [c["id"] for c in (await read(client, owner, CONTACTS))["items"]] == [target]


async def test_the_sources_open_conversation_on_a_shared_channel_is_resolved(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    whatsapp = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    target, kept = await customer_on(container, whatsapp, "US.1", "16505550001", "Ann")
    source, moved = await customer_on(container, whatsapp, "US.2", None, "Ann (username)")

    merged = await merge(client, owner, target, source)

    assert merged["moved"]["conversations"] == [moved]
    assert merged["moved"]["resolved_conversations"] == [moved]
    assert (await read(client, owner, f"{CONVERSATIONS}/{moved}"))["status"] == "resolved"
    # The target's conversation stays the one the customer's next message joins.
    message = await receive(container, written("US.1", "16505550001", "Ann", "Hi"), whatsapp)
    assert message.conversation_id == kept and message.contact_id == target


async def test_a_manual_contact_takes_the_customers_ids_and_consent_is_kept(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    whatsapp = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    made = await client.post(CONTACTS, json={"name": "Bob", "email": "bob@example.com",
                                             "attributes": {"tier": 1}}, headers=owner)  # fmt: skip
    target = made.json()["id"]
    opted = await client.post(f"{CONTACTS}/{target}/opt-out", json={"source": "api"},
                              headers=owner)  # fmt: skip
    assert opted.status_code == 200
    source, conversation = await customer_on(container, whatsapp, "US.9", "16505550009", "B")
    opted_in = await client.post(f"{CONTACTS}/{source}/opt-in", headers=owner)
    assert opted_in.status_code == 200
    contacts: ContactRepository = container.resolve(ContactRepository)
    with tenant_context(TenantId(acme.tenant.id or "")):  # as stored before channels were kept
        assert await contacts.update(source, {"channels": []}) is not None
    callback = await submit(client, acme.tenant.id or "", phone="+16505550009")
    assert (await read(client, owner, f"{STAFF}/{callback}"))["contact_id"] == source

    merged = await merge(client, owner, target, source)

    assert merged["moved"]["callback_requests"] == 1
    assert (await read(client, owner, f"{STAFF}/{callback}"))["contact_id"] == target
    contact = merged["contact"]
    assert sorted(merged["identities"]) == ["bsuid", "phone", "wa_id"]
    assert contact["phone"] == "+16505550009" and contact["wa_id"] == "16505550009"
    assert contact["bsuid"] == "US.9" and contact["channel_id"] == whatsapp.id
    assert contact["opted_out"] is True and contact["opt_out_source"] == "api"  # kept
    assert contact["channels"] == [{"channel_id": whatsapp.id, "channel_type": "whatsapp"}]
    assert contact["name"] == "Bob" and merged["kept_from_target"] == ["name"]
    # The customer's next message finds the target, in the moved conversation.
    message = await receive(container, written("US.9", "16505550009", "B", "Hi"), whatsapp)
    assert message.contact_id == target and message.conversation_id == conversation
    # The number is the target's now: another contact cannot take it.
    taken = await client.post(CONTACTS, json={"phone": "+16505550009"}, headers=owner)
    assert assert_problem(taken, 409, "duplicate_contact")["existing_id"] == target


async def test_bad_merges_are_refused_and_nothing_moves(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, beta_owner = await two_tenants(client)
    ann = await new_contact(client, owner, phone="+14155550101", name="Ann")
    bob = await new_contact(client, owner, phone="+14155550102", name="Bob")
    lead = await new_lead(client, owner, contact_id=bob, title="Deal")
    theirs = await new_contact(client, beta_owner, phone="+14155550103", name="Cy")

    def url(target: str) -> str:
        return f"{CONTACTS}/{target}/merge"

    itself = await client.post(url(ann), json={"source_contact_id": ann}, headers=owner)
    assert_problem(itself, 422, "invalid_input")
    for target, source in ((ann, theirs), (theirs, ann)):
        foreign = await client.post(url(target), json={"source_contact_id": source},
                                    headers=owner)  # fmt: skip
        assert_problem(foreign, 404, "not_found")
    from_beta = await client.post(url(ann), json={"source_contact_id": bob}, headers=beta_owner)
    assert_problem(from_beta, 404, "not_found")
    unknown = await client.post(url(ann), json={"source_contact_id": "0" * 24}, headers=owner)
    assert_problem(unknown, 404, "not_found")
    for body in ({}, {"source_contact_id": ""}, {"source_contact_id": bob, "x": 1}):
        assert_problem(await client.post(url(ann), json=body, headers=owner), 422,
                       "invalid_input")  # fmt: skip
    anonymous = await client.post(url(ann), json={"source_contact_id": bob},
                                  headers={"X-Tenant-ID": acme.tenant.id or ""})  # fmt: skip
    assert anonymous.status_code == 401
    await create_role(client, owner, "contact readers", ["contacts:read"])
    _, reader = await signed_in(client, acme, owner, "reader@acme.example.com",
                                roles=["contact readers"])  # fmt: skip
    refused = await client.post(url(ann), json={"source_contact_id": bob}, headers=reader)
    assert_problem(refused, 403, "forbidden")
    candidates = await client.get(f"{CONTACTS}/{ann}/merge-candidates")
    assert candidates.status_code == 401
    assert_problem(await client.get(f"{CONTACTS}/{theirs}/merge-candidates", headers=owner),
                   404, "not_found")  # fmt: skip

    assert (await read(client, owner, f"{CONTACTS}/{bob}"))["phone"] == "+14155550102"
    assert (await read(client, owner, f"{LEADS}/{lead['id']}"))["contact_id"] == bob
    assert await audit_entries(client, owner, action="contact.merged") == []
    assert (await read(client, beta_owner, f"{CONTACTS}/{theirs}"))["name"] == "Cy"


async def test_concurrent_merges_of_one_pair_have_one_winner(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    whatsapp = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    telegram = await channel_of_type(container, acme.tenant.id or "", graph.base_url,
                                     ChannelType.TELEGRAM, "900002")  # fmt: skip
    target, _ = await customer_on(container, whatsapp, "US.1", "16505550001", "Ann")
    source, moved = await customer_on(container, telegram, "TG.1", None, "Ann")
    for n in range(3):
        await new_lead(client, owner, contact_id=source, title=f"Deal {n}")

    answers = await asyncio.gather(*(
        client.post(f"{CONTACTS}/{a}/merge", json={"source_contact_id": b}, headers=owner)
        for a, b in [(target, source)] * 4 + [(source, target)] * 2
    ))  # fmt: skip

    assert [r.status_code for r in answers].count(200) == 1, [r.text for r in answers]
    for answer in answers:
        if answer.status_code != 200:
            assert answer.status_code in (404, 409), answer.text
            assert answer.json()["code"] in ("already_merged", "merge_in_progress",
                                             "contact_merged")  # fmt: skip
    [winner] = [r.json() for r in answers if r.status_code == 200]
    survivor = winner["contact"]["id"]
    listed = await read(client, owner, CONTACTS)
    assert [c["id"] for c in listed["items"]] == [survivor]
    leads = await read(client, owner, LEADS)
    assert sorted(x["contact_id"] for x in leads["items"]) == [survivor] * 3
    conversations = await read(client, owner, CONVERSATIONS)
    assert {c["contact"]["id"] for c in conversations["items"]} == {survivor}
    assert len(conversations["items"]) == 2 and moved in {c["id"] for c in conversations["items"]}
    assert len(await audit_entries(client, owner, action="contact.merged")) == 1


async def test_a_merge_stopped_half_way_completes_when_sent_again(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    whatsapp = await stored_channel(container, tenant_id, graph.base_url)
    source, conversation = await customer_on(container, whatsapp, "US.5", "16505550005", "Di")
    target = await new_contact(client, owner, phone="+14155550105", name="Diana")
    other = await new_contact(client, owner, phone="+14155550106", name="Other")
    lead = await new_lead(client, owner, contact_id=source, title="Deal")
    contacts: ContactRepository = container.resolve(ContactRepository)
    with tenant_context(TenantId(tenant_id)):  # a run that died after its first writes
        stale = datetime.now(UTC) - timedelta(minutes=1)
        assert await contacts.claim_merge(source, token="dead", until=stale, into=target)
        assert await contacts.claim_merge(target, token="dead", until=stale, into=None)
        assert await contacts.mark_merging(source, target, "dead")
        assert await contacts.release_identity(source) == {"phone": "+16505550005",
                                                           "wa_id": "16505550005",
                                                           "bsuid": "US.5"}  # fmt: skip

    elsewhere = await client.post(f"{CONTACTS}/{other}/merge",
                                  json={"source_contact_id": source}, headers=owner)  # fmt: skip
    assert_problem(elsewhere, 409, "merge_in_progress")
    merged = await merge(client, owner, target, source)

    assert merged["moved"]["conversations"] == [conversation]
    assert merged["contact"]["phone"] == "+14155550105"  # the target's number wins
    assert "phone" in merged["kept_from_target"]
    assert (await read(client, owner, f"{LEADS}/{lead['id']}"))["contact_id"] == target
    gone = await client.get(f"{CONTACTS}/{source}", headers=owner)
    assert_problem(gone, 404, "contact_merged")
    # The source's number was released: it can be a contact again.
    again = await client.post(CONTACTS, json={"phone": "+16505550005"}, headers=owner)
    assert again.status_code == 201, again.text


async def test_a_limited_user_merges_only_records_of_their_departments(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    sam, sam_headers = await limited_user(
        client, owner, tenant_id, "sam@acme.example.com",
        ("contacts:read", "contacts:write", "crm:read"),
    )  # fmt: skip
    sales = await add_department(tenant_id, "Sales", [sam])
    support = await add_department(tenant_id, "Support", [])
    target = await new_contact(client, owner, phone="+14155550201", name="T")
    mine = await new_contact(client, owner, phone="+14155550202", name="Mine")
    hidden = await new_contact(client, owner, phone="+14155550203", name="Hidden")
    ours = await new_lead(client, owner, contact_id=mine, title="Ours", department_id=sales)
    theirs = await new_lead(client, owner, contact_id=hidden, title="Theirs",
                            department_id=support)  # fmt: skip
    await new_lead(client, owner, contact_id=hidden, title="Also ours", department_id=sales)

    body = {"source_contact_id": hidden}
    refused = await client.post(f"{CONTACTS}/{target}/merge", json=body, headers=sam_headers)
    assert_problem(refused, 403, "merge_outside_departments")
    assert (await read(client, owner, f"{LEADS}/{theirs['id']}"))["contact_id"] == hidden
    assert (await read(client, owner, f"{CONTACTS}/{hidden}"))["phone"] == "+14155550203"

    merged = await merge(client, sam_headers, target, mine)
    assert merged["moved"]["leads"] == 1
    assert (await read(client, owner, f"{LEADS}/{ours['id']}"))["contact_id"] == target
    # The owner (unlimited) merges the other one.
    assert (await merge(client, owner, target, hidden))["moved"]["leads"] == 2


async def test_filters_by_channel_type_and_merge_candidates(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, beta_owner = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    whatsapp = await stored_channel(container, tenant_id, graph.base_url)
    telegram = await channel_of_type(container, tenant_id, graph.base_url,
                                     ChannelType.TELEGRAM, "900003")  # fmt: skip
    on_whatsapp, in_whatsapp = await customer_on(container, whatsapp, "US.1", "16505550001", "W")
    on_telegram, in_telegram = await customer_on(container, telegram, "TG.1", None, "T")
    manual = await new_contact(client, owner, phone="+14155550301", name="M")

    async def ids(url: str, **params: Any) -> list[str]:
        response = await client.get(url, params=params, headers=owner)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids(CONTACTS, channel_type="telegram") == [on_telegram]
    assert await ids(CONTACTS, channel_type="whatsapp") == [on_whatsapp]
    assert await ids(CONTACTS, channel_type="instagram") == []
    assert set(await ids(CONTACTS)) == {on_whatsapp, on_telegram, manual}
    assert await ids(CONVERSATIONS, channel_type="telegram") == [in_telegram]
    assert await ids(CONVERSATIONS, channel_type="whatsapp") == [in_whatsapp]
    assert await ids(CONVERSATIONS, channel_type="messenger") == []
    for url in (CONTACTS, CONVERSATIONS):
        bad = await client.get(url, params={"channel_type": "fax"}, headers=owner)
        assert_problem(bad, 422, "invalid_input")
    assert await ids(CONTACTS, channel_type="telegram", q="T") == [on_telegram]
    beta_ids = await client.get(CONTACTS, params={"channel_type": "telegram"},
                                headers=beta_owner)  # fmt: skip
    assert beta_ids.json()["items"] == []

    # Candidates: the same email (any case), or the number as another's WhatsApp id.
    await patch(client, owner, manual, email="Same@Example.com")
    await patch(client, owner, on_telegram, email="same@example.com")
    await new_contact(client, beta_owner, phone="+14155550301", name="Beta's")
    found = await read(client, owner, f"{CONTACTS}/{manual}/merge-candidates")
    assert [(c["id"], c["matched_on"]) for c in found["items"]] == [(on_telegram, ["email"])]
    none = await read(client, owner, f"{CONTACTS}/{on_whatsapp}/merge-candidates")
    assert none["items"] == []
