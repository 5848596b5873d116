"""What a send job reads, against the real database and the fake Graph API: a WhatsApp
message carries its recipient from when it was queued (the send reads no conversation);
the worker keeps an active channel a few seconds (`SEND_CHANNEL_CACHE_SECONDS`), and a
token Meta refuses is read again first: rotated meanwhile, the new one is used; the same,
the channel becomes `token_invalid` and is not kept; a channel that is not active is never
kept. The claim lives in Redis, not in the database, and ends with the send."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import punq
import pytest
from bson import ObjectId
from redis.asyncio import Redis

from api.common.background import drain_background
from api.domain.errors import ServiceUnavailable
from api.domain.identity.auth import SecretBox
from api.domain.messaging.channels import (
    Channel,
    ChannelRepository,
    ChannelStatus,
    SecretName,
)
from api.domain.messaging.content import Recipient
from api.domain.messaging.messages import (
    Message,
    MessageRepository,
)
from api.domain.messaging.realtime import InboxEvent, InboxEventType
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.cache.send_claims import CLAIM_PREFIX
from api.infrastructure.cache.sending_channels import CachedSendingChannels
from api.infrastructure.persistence.base.scoped import TenantScopedRepository
from api.infrastructure.persistence.messaging import messages as stored_messages
from api.infrastructure.persistence.messaging.messages import CLAIM_END_DELAY_SECONDS
from api.usecases.messaging.deliver_outbound_message import (
    DeliverOutboundMessage,
    DeliveryOutcome,
)
from tests.fakes.clock import FakeUtcClock
from tests.support.app import AppClient
from tests.support.fake_graph import OTHER_TOKEN, TOKEN, FakeGraph
from tests.support.inbox import stored_channel
from tests.support.onboarding import onboard, owner_headers
from tests.support.sending import CREATED, PHONE, queued, queued_message, stored


@pytest.fixture
async def channel(container: punq.Container, graph: FakeGraph) -> Channel:
    """A WhatsApp channel on the fake Graph, in a tenant of its own."""
    return await stored_channel(container, str(ObjectId()), graph.base_url)


@pytest.fixture
def channels(container: punq.Container) -> ChannelRepository:
    repository: ChannelRepository = container.resolve(ChannelRepository)
    return repository


async def test_a_queued_whatsapp_message_carries_its_recipient(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    body = {"channel_id": channel.id, "to": PHONE, "type": "template",
            "template": {"name": "order_update", "language": "en_US"}}  # fmt: skip
    message = await stored(container, channel, (await queued(client, owner, body))["id"])
    assert message.recipient == Recipient(phone=PHONE)
    shown = await client.get(f"/api/v1/messages/{message.id}", headers=owner)
    assert "recipient" not in shown.json()  # stored for the send, not part of the API


async def test_the_send_uses_the_messages_recipient_and_ends_its_claim(
    container: punq.Container, graph: FakeGraph, channel: Channel
) -> None:
    message_id = await queued_message(container, channel, "Hello")
    deliver: DeliverOutboundMessage = container.resolve(DeliverOutboundMessage)
    with tenant_context(TenantId(channel.tenant_id or "")):
        assert await deliver.execute(message_id, final_attempt=True) is DeliveryOutcome.SENT
    await drain_background(10)  # `sent` is recorded once the send has returned
    [sent] = [seen.body for seen in graph.requests if seen.endpoint == "send"]
    assert sent["to"] == PHONE.lstrip("+") and sent["text"]["body"] == "Hello"
    message = await stored(container, channel, message_id)
    assert message.status == "sent" and message.external_id is not None
    # Ended just after the send, which does not wait for it (it holds nothing by then).
    redis: Redis = container.resolve(Redis)
    deadline = time.monotonic() + 10
    while await redis.exists(CLAIM_PREFIX + message_id):
        assert time.monotonic() < deadline, "the claim was not ended"
        await asyncio.sleep(0.05)


class HeldEvents:
    """`InboxEvents` whose publish notes what is stored when it starts, then waits to be let
    go: a send that waited for its event would not return before `go` is set."""

    def __init__(self, messages: MessageRepository) -> None:
        self._messages = messages
        self.go = asyncio.Event()
        self.stored_then: list[str] = []
        self.published: list[InboxEvent] = []

    async def publish(self, event: InboxEvent) -> str | None:
        found = await self._messages.get(str(event.data["id"]))
        self.stored_then.append(found.status.value if found else "gone")
        await self.go.wait()
        self.published.append(event)
        return "0-1"


async def test_the_sent_event_follows_the_stored_move_and_the_send_does_not_wait_for_it(
    container: punq.Container, graph: FakeGraph, channel: Channel
) -> None:
    message_id = await queued_message(container, channel, "Hello")
    events = HeldEvents(container.resolve(MessageRepository))
    deliver = container.instantiate(DeliverOutboundMessage, events=events)
    with tenant_context(TenantId(channel.tenant_id or "")):
        outcome = await asyncio.wait_for(deliver.execute(message_id, final_attempt=True), 10)
        assert outcome is DeliveryOutcome.SENT and events.published == []
        events.go.set()
        deadline = time.monotonic() + 10
        while not events.published:
            assert time.monotonic() < deadline, "the event was not published"
            await asyncio.sleep(0.02)
    assert events.stored_then == ["sent"]  # published once `sent` was stored, not before
    [event] = events.published
    assert event.type is InboxEventType.MESSAGE_UPDATED
    assert event.data["id"] == message_id and event.data["status"] == "sent"
    assert event.data["external_id"] == (await stored(container, channel, message_id)).external_id


async def test_a_token_rotated_while_the_channel_was_kept_is_read_again_and_used(
    container: punq.Container, graph: FakeGraph, channel: Channel, channels: ChannelRepository
) -> None:
    assert channel.id is not None and channel.tenant_id is not None
    kept = CachedSendingChannels(channels, FakeUtcClock(), ttl_seconds=60)
    deliver = container.instantiate(DeliverOutboundMessage, sending=kept)
    tenant = TenantId(channel.tenant_id)

    async def send(text: str) -> tuple[DeliveryOutcome, Message]:
        message_id = await queued_message(container, channel, text)
        with tenant_context(tenant):
            outcome = await deliver.execute(message_id, final_attempt=True)
        await drain_background(10)  # `sent` is recorded once the send has returned
        return outcome, await stored(container, channel, message_id)

    assert (await send("one"))[0] is DeliveryOutcome.SENT  # the channel is kept from here
    box: SecretBox = container.resolve(SecretBox)
    rotated = channel.secrets.with_secret(SecretName.ACCESS_TOKEN, box.encrypt(OTHER_TOKEN))
    with tenant_context(tenant):
        assert await channels.replace(channel.model_copy(update={"secrets": rotated}))
    graph.tokens = {OTHER_TOKEN}  # Meta revoked the old one
    outcome, two = await send("two")
    assert outcome is DeliveryOutcome.SENT and two.status == "sent"
    assert graph.tokens_seen("send") == [TOKEN, TOKEN, OTHER_TOKEN]
    with tenant_context(tenant):
        still = await channels.get(channel.id)
    assert still is not None and still.status is ChannelStatus.ACTIVE
    graph.tokens = set()  # the new token is refused too: the channel's token is bad
    outcome, three = await send("three")
    assert outcome is DeliveryOutcome.FAILED and three.error is not None
    assert three.error.code == 190
    assert graph.tokens_seen("send") == [TOKEN, TOKEN, OTHER_TOKEN, OTHER_TOKEN]
    with tenant_context(tenant):
        marked = await channels.get(channel.id)
    assert marked is not None and marked.status is ChannelStatus.TOKEN_INVALID
    # Not kept once refused: the next message fails on the stored state, calling nobody.
    outcome, four = await send("four")
    assert outcome is DeliveryOutcome.FAILED and four.error is not None
    assert four.error.title == "Channel token_invalid"
    assert graph.calls("send") == 4


async def test_a_kept_channel_shows_changes_after_its_time_and_inactive_ones_are_not_kept(
    channel: Channel, channels: ChannelRepository
) -> None:
    assert channel.id is not None and channel.tenant_id is not None
    clock = FakeUtcClock()
    kept = CachedSendingChannels(channels, clock, ttl_seconds=5)

    async def rate(cache: CachedSendingChannels) -> int | None:
        found = await cache.get(channel.id or "")
        return found.messages_per_second if found else None

    async def store(**changes: object) -> None:
        assert await channels.replace(channel.model_copy(update=changes))

    with tenant_context(TenantId(channel.tenant_id)):
        assert await rate(kept) == 80
        await store(messages_per_second=10)
        clock.advance(seconds=4.9)
        assert await rate(kept) == 80  # kept: not read
        clock.advance(seconds=0.1)
        assert await rate(kept) == 10  # its time is over: read again
        # Another tenant naming the same id finds nothing (kept per tenant).
        with tenant_context(TenantId(str(ObjectId()))):
            assert await kept.get(channel.id) is None
        # Disconnected: read every time, so reconnecting shows at once.
        await store(messages_per_second=10, status=ChannelStatus.DISCONNECTED)
        off = await kept.fresh(channel.id)
        assert off is not None and off.status is ChannelStatus.DISCONNECTED
        await store(messages_per_second=20)
        assert await rate(kept) == 20
        # `forget`: read next time; 0 s keeps nothing.
        await store(messages_per_second=30)
        kept.forget(channel.id)
        assert await rate(kept) == 30
        not_kept = CachedSendingChannels(channels, clock, ttl_seconds=0)
        assert await rate(not_kept) == 30
        await store(messages_per_second=40)
        assert await rate(not_kept) == 40


@pytest.mark.parametrize("read", ["with the claim", "after the claim"])
async def test_a_claim_held_by_a_live_run_holds_and_one_that_ran_out_is_taken_over(
    container: punq.Container, channel: Channel, read: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if read == "after the claim":  # every answer too slow to trust the read asked with it
        monkeypatch.setattr(stored_messages, "CLAIM_END_DELAY_SECONDS", 0.0)
    message_id = await queued_message(container, channel, "Claimed")
    now = CREATED
    with tenant_context(TenantId(channel.tenant_id or "")):
        messages: MessageRepository = container.resolve(MessageRepository)
        first = await messages.claim_send(message_id, now=now, until=now + timedelta(minutes=1))
        assert first.message is not None and first.message.id == message_id
        held = await messages.claim_send(message_id, now=now, until=now + timedelta(minutes=5))
        assert held.message is None and held.held_until == now + timedelta(minutes=1)
        later = now + timedelta(minutes=2)  # the first run died: its claim ran out
        taken = await messages.claim_send(message_id, now=later, until=later + timedelta(minutes=1))
        assert taken.message is not None and taken.message.id == message_id
        await messages.release_send(message_id)  # given back: the next run claims it
        again = await messages.claim_send(message_id, now=now, until=now + timedelta(minutes=1))
        assert again.message is not None
        # Another tenant cannot claim it (nor learn that it is held).
        with tenant_context(TenantId(str(ObjectId()))):
            other = await messages.claim_send(message_id, now=later, until=later)
        assert other.message is None and other.held_until is None


async def test_a_settled_messages_claim_ends_a_moment_after_its_outcome_never_sooner(
    container: punq.Container, channel: Channel
) -> None:
    """For CLAIM_END_DELAY_SECONDS after an outcome any new claim is refused: a claim and
    a read asked for together can trust the read (a read from before an outcome would
    need the outcome's claim gone before that long)."""
    message_id = await queued_message(container, channel, "Settled")
    redis: Redis = container.resolve(Redis)
    until = CREATED + timedelta(minutes=1)
    with tenant_context(TenantId(channel.tenant_id or "")):
        messages: MessageRepository = container.resolve(MessageRepository)
        claim = await messages.claim_send(message_id, now=CREATED, until=until)
        assert claim.message is not None
        assert await messages.mark_sent(claim.message, "wamid.SETTLED", CREATED) is not None
        ended = time.monotonic()
        messages.end_send(message_id)
        late = await messages.claim_send(message_id, now=CREATED, until=until)
        assert late.message is None and late.held_until is None  # refused, and settled
        assert await redis.exists(CLAIM_PREFIX + message_id) == 1
        while await redis.exists(CLAIM_PREFIX + message_id):
            assert time.monotonic() - ended < 10 + CLAIM_END_DELAY_SECONDS, "never ended"
            await asyncio.sleep(0.05)
        assert time.monotonic() - ended >= CLAIM_END_DELAY_SECONDS


async def test_a_claim_taken_while_the_read_failed_is_given_back(
    container: punq.Container, channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim and the read are asked for at once: when the read fails, the claim just
    taken is given back, so the job's retry claims the message at once instead of waiting
    for the claim to run out."""
    message_id = await queued_message(container, channel, "Read failed")
    redis: Redis = container.resolve(Redis)

    async def unavailable(*_: object) -> None:
        raise ServiceUnavailable("database")

    until = CREATED + timedelta(minutes=1)
    with tenant_context(TenantId(channel.tenant_id or "")):
        messages: MessageRepository = container.resolve(MessageRepository)
        with monkeypatch.context() as patched:
            patched.setattr(TenantScopedRepository, "get", unavailable)
            with pytest.raises(ServiceUnavailable):
                await messages.claim_send(message_id, now=CREATED, until=until)
        assert not await redis.exists(CLAIM_PREFIX + message_id)
        retried = await messages.claim_send(message_id, now=CREATED, until=until)
    assert retried.message is not None and retried.message.id == message_id
