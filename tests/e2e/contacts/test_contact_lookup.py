"""One way to find a customer, whoever asks (inbound, sending, provider signals): by the
user id on the channel, else by the number in the tenant; `ensure` creates at most one
contact under concurrency, and never a second one for a number a contact has."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import punq

from api.domain.messaging.contacts import ContactIdentity, ContactRepository
from api.domain.tenancy import TenantId, tenant_context
from tests.support.app import AppClient
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import stored_channel
from tests.support.people import two_tenants

CONTACTS = "/api/v1/contacts"


async def test_ensure_finds_by_number_and_creates_once(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    assert channel.id is not None
    manual = (await client.post(CONTACTS, json={"phone": "+16505551234"}, headers=owner)).json()
    contacts: ContactRepository = container.resolve(ContactRepository)

    with tenant_context(TenantId(acme.tenant.id or "")):
        found = await contacts.ensure(channel.id, ContactIdentity(wa_id="16505551234"))
        assert found.id == manual["id"] and found.source == "manual"
        assert await contacts.find(None, ContactIdentity(wa_id="16505551234")) == found

        new = ContactIdentity(wa_id="16505550077")
        made = await asyncio.gather(*(contacts.ensure(channel.id, new) for _ in range(5)))
        assert len({c.id for c in made}) == 1
        assert made[0].phone == "+16505550077" and made[0].source == "api"
        assert made[0].channel_id == channel.id

        # An inbound message and a send racing for one new customer: one contact.
        racing = ContactIdentity(bsuid="US.1", wa_id="16505550088")
        at = datetime(2026, 5, 1, tzinfo=UTC)
        inbound, sent = await asyncio.gather(
            contacts.upsert_inbound(channel.id, racing, at),
            contacts.ensure(channel.id, ContactIdentity(wa_id="16505550088")),
        )
        assert inbound.id == sent.id
        again = await contacts.upsert_inbound(channel.id, racing, at)
        assert again.id == inbound.id and again.bsuid == "US.1"
