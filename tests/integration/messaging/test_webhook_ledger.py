"""The item ledger, the raw deliveries and the cross-tenant channel lookup on the real
database: one claim wins among concurrent ones; settled items never repeat; a transient
failure or a crashed holder (lease run out) lets the item be claimed again; deliveries
stored at once are written together, each answered with its own id or error."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bson import ObjectId
from cryptography.fernet import Fernet
from pymongo.errors import WriteError

from api.common.clock import utcnow
from api.domain.messaging.channels import ChannelStatus, ChannelType
from api.domain.messaging.webhooks import Claim, ItemState, WebhookEvent, WebhookEventStatus
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.messaging.channel_lookup import PlatformChannelLookup
from api.infrastructure.persistence.messaging.channels import BeanieChannelRepository
from api.infrastructure.persistence.messaging.webhooks import (
    MongoWebhookEventStore,
    MongoWebhookItemLedger,
    insert_deliveries,
)
from api.infrastructure.security.secret_box import FernetSecretBox
from tests.support.channels import whatsapp_channel

LEASE = timedelta(minutes=5)


async def claim(
    ledger: MongoWebhookItemLedger,
    key: str = "message:wamid.1",
    *,
    minutes: float = 0,
    days: float = 0,
) -> Claim:
    now = utcnow() + timedelta(minutes=minutes, days=days)
    return await ledger.claim(
        channel_id="c1", tenant_id="t1", key=key, event_type="message_received",
        webhook_event_id="e1", now=now, lease_until=now + LEASE,
    )  # fmt: skip


async def test_one_of_many_concurrent_claims_wins() -> None:
    ledger = MongoWebhookItemLedger()
    results = await asyncio.gather(*(claim(ledger) for _ in range(20)))
    assert results.count(Claim.TAKEN) == 1
    assert results.count(Claim.HELD) == 19
    item = await ledger.get("c1", "message:wamid.1")
    assert item is not None and item.state is ItemState.PROCESSING and item.attempts == 1


async def test_settled_items_never_repeat_and_retries_may() -> None:
    ledger = MongoWebhookItemLedger()
    for state in (ItemState.DONE, ItemState.IGNORED, ItemState.FAILED):
        key = f"k:{state.value}"
        assert await claim(ledger, key) is Claim.TAKEN
        await ledger.settle(channel_id="c1", key=key, state=state, error=None, now=utcnow())
        assert await claim(ledger, key) is Claim.SETTLED
        assert await claim(ledger, key, days=30) is Claim.SETTLED
    assert await claim(ledger, "k:retry") is Claim.TAKEN
    await ledger.settle(
        channel_id="c1", key="k:retry", state=ItemState.RETRY, error="x", now=utcnow()
    )
    assert await claim(ledger, "k:retry") is Claim.TAKEN
    item = await ledger.get("c1", "k:retry")
    assert item is not None and item.attempts == 2 and item.state is ItemState.PROCESSING


async def test_a_crashed_holder_lets_go_after_its_lease() -> None:
    ledger = MongoWebhookItemLedger()
    assert await claim(ledger) is Claim.TAKEN
    assert await claim(ledger, minutes=1) is Claim.HELD  # still held
    assert await claim(ledger, minutes=6) is Claim.TAKEN  # the holder died: lease ran out
    assert await claim(ledger, minutes=7) is Claim.HELD


async def test_the_other_channel_keeps_its_own_keys() -> None:
    ledger = MongoWebhookItemLedger()
    assert await claim(ledger) is Claim.TAKEN
    now = utcnow()
    assert Claim.TAKEN is await ledger.claim(
        channel_id="c2", tenant_id="t2", key="message:wamid.1", event_type="message_received",
        webhook_event_id="e2", now=now, lease_until=now + LEASE,
    )  # fmt: skip


async def test_the_lookup_finds_channels_across_tenants_by_id_account_and_business() -> None:
    box = FernetSecretBox(Fernet.generate_key().decode())
    repository, lookup = BeanieChannelRepository(), PlatformChannelLookup()
    with tenant_context(TenantId("t1")):
        stored = await repository.add(
            whatsapp_channel(box, "http://graph.invalid", channel_id=None)
        )
    assert stored.id is not None
    found = await lookup.by_id(stored.id)
    assert found is not None and found.tenant_id == "t1"
    by_account = await lookup.by_account(ChannelType.WHATSAPP, stored.account_id)
    assert by_account is not None and by_account.id == stored.id
    assert await lookup.by_id("not-an-id") is None
    assert await lookup.by_account(ChannelType.WHATSAPP, "unknown") is None
    with tenant_context(TenantId("t2")):
        sibling = await repository.add(
            whatsapp_channel(box, "http://graph.invalid", channel_id=None, phone_number_id="42")
        )
    business = stored.business_account_id or ""
    found_all = await lookup.by_business_account(ChannelType.WHATSAPP, business)
    assert [(c.id, c.tenant_id) for c in found_all] == [(stored.id, "t1"), (sibling.id, "t2")]
    assert await lookup.by_business_account(ChannelType.WHATSAPP, "unknown") == []
    with tenant_context(TenantId("t1")):
        await repository.replace(stored.model_copy(update={"status": ChannelStatus.DISCONNECTED}))
    assert await lookup.by_account(ChannelType.WHATSAPP, stored.account_id) is None
    remaining = await lookup.by_business_account(ChannelType.WHATSAPP, business)
    assert [c.id for c in remaining] == [sibling.id]


def _delivery(n: int) -> WebhookEvent:
    return WebhookEvent(
        channel_type=ChannelType.WHATSAPP, channel_id="c1", tenant_id="t1",
        received_at=utcnow(), body=f'{{"n": {n}}}'.encode(), signature_verified=True,
        status=WebhookEventStatus.QUEUED,
    )  # fmt: skip


async def test_deliveries_stored_at_once_are_written_together_each_with_its_own_id() -> None:
    store = MongoWebhookEventStore()
    stored = await asyncio.gather(*(store.add(_delivery(n)) for n in range(25)))
    assert len({event.id for event in stored}) == 25
    for n, event in enumerate(stored):
        assert event.id is not None
        found = await store.get(event.id)
        assert found is not None and found.body == f'{{"n": {n}}}'.encode()


async def test_a_delivery_failing_in_a_batch_fails_alone() -> None:
    twin = ObjectId()
    documents = [
        {**_delivery(n).model_dump(exclude={"id"}), **({"_id": twin} if n < 2 else {})}
        for n in range(3)
    ]
    first, second, third = await insert_deliveries(documents)
    assert first == twin and isinstance(third, ObjectId)
    assert isinstance(second, WriteError) and second.code == 11000  # duplicate key
