"""`ApplyMessageStatus` against the real database: statuses in every order, repeated and
concurrent, only move a message forward; `failed` is final and keeps Meta's error; each
state keeps its timestamp; pricing is kept; an unknown message is no error."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import punq
import pytest
from bson import ObjectId
from redis.asyncio import Redis

from api.domain.messaging.channels import Channel
from api.domain.messaging.events import StatusUpdated
from api.domain.messaging.messages import (
    Direction,
    Message,
    MessageRepository,
    MessageSender,
    MessageStatus,
    SenderType,
    StatusChange,
)
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.apply_message_status import ApplyMessageStatus, StatusOutcome
from api.usecases.messaging.deliver_outbound_message import (
    DeliverOutboundMessage,
    DeliveryOutcome,
)
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import SENT_EXTERNAL_ID, outbound_message, status_event, stored_channel
from tests.support.realtime import published

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ORDER = ["sent", "delivered", "read", "played"]


def at(state: str) -> datetime:
    return BASE + timedelta(minutes=[*ORDER, "failed"].index(state))


def status(state: str) -> StatusUpdated:
    return status_event(state, timestamp=at(state))


@pytest.fixture
async def channel(container: punq.Container, graph: FakeGraph) -> Channel:
    return await stored_channel(container, str(ObjectId()), graph.base_url)


async def apply(container: punq.Container, event: StatusUpdated, channel: Channel) -> StatusOutcome:
    outcome: StatusOutcome = await container.resolve(ApplyMessageStatus).execute(event, channel)
    return outcome


async def reread(container: punq.Container, channel: Channel, message: Message) -> Message:
    assert channel.tenant_id is not None
    with tenant_context(TenantId(channel.tenant_id)):
        messages: MessageRepository = container.resolve(MessageRepository)
        found = await messages.get(message.id or "")
    assert found is not None
    return found


async def test_statuses_in_order(container: punq.Container, channel: Channel) -> None:
    message = await outbound_message(container, channel, SENT_EXTERNAL_ID)
    assert message.status == "queued"
    for state in ORDER:
        assert await apply(container, status(state), channel) is StatusOutcome.MOVED
        assert (await reread(container, channel, message)).status == state
    final = await reread(container, channel, message)
    assert final.status_timestamps == {state: at(state) for state in ORDER}
    assert final.pricing == {
        "model": "PMP", "category": "marketing", "type": "regular", "billable": True,
    }  # fmt: skip
    assert final.error is None


@pytest.mark.parametrize("order", list(itertools.permutations(ORDER)))
async def test_any_order_and_repetition_ends_furthest(
    container: punq.Container, channel: Channel, order: tuple[str, ...]
) -> None:
    message = await outbound_message(container, channel, SENT_EXTERNAL_ID)
    for state in [*order, *reversed(order)]:
        await apply(container, status(state), channel)
    final = await reread(container, channel, message)
    assert final.status == "played"
    assert final.status_timestamps == {state: at(state) for state in ORDER}
    assert final.pricing is not None and final.pricing["category"] == "marketing"


async def test_concurrent_statuses_never_move_back(
    container: punq.Container, channel: Channel
) -> None:
    message = await outbound_message(container, channel, SENT_EXTERNAL_ID)
    burst = [status(state) for state in ORDER[:3] for _ in range(4)]
    await asyncio.gather(*(apply(container, e, channel) for e in burst))
    final = await reread(container, channel, message)
    assert final.status == "read" and set(final.status_timestamps) == set(ORDER[:3])


@pytest.mark.parametrize("failed_at", range(4))
async def test_failed_is_final_and_keeps_the_error(
    container: punq.Container, channel: Channel, failed_at: int
) -> None:
    message = await outbound_message(container, channel, SENT_EXTERNAL_ID)
    states = ["sent", "delivered", "read"]
    states.insert(failed_at, "failed")
    outcomes = [await apply(container, status(state), channel) for state in states]
    assert outcomes[failed_at] is StatusOutcome.MOVED
    assert all(o is StatusOutcome.KEPT for o in outcomes[failed_at + 1 :])
    final = await reread(container, channel, message)
    assert final.status == "failed"
    assert final.error is not None and final.error.code == 131049
    assert final.error.title == (
        "This message was not delivered to maintain healthy ecosystem engagement."
    )
    assert final.error.details is not None and "healthy ecosystem" in final.error.details
    assert final.status_timestamps["failed"] == at("failed")


async def test_a_status_for_an_unknown_message_is_ignored(
    container: punq.Container, channel: Channel
) -> None:
    assert await apply(container, status("read"), channel) is StatusOutcome.UNKNOWN


async def test_statuses_stay_in_their_tenant(
    container: punq.Container, channel: Channel, graph: FakeGraph
) -> None:
    message = await outbound_message(container, channel, SENT_EXTERNAL_ID)
    other = await stored_channel(
        container, str(ObjectId()), graph.base_url, phone_number_id="222333444555"
    )
    assert await apply(container, status("read"), other) is StatusOutcome.UNKNOWN
    assert (await reread(container, channel, message)).status == "queued"


async def test_only_a_status_that_moves_the_message_is_published(
    container: punq.Container, channel: Channel, redis_client: Redis
) -> None:
    message = await outbound_message(container, channel, SENT_EXTERNAL_ID)
    for state in ["delivered", "sent", "delivered", "read"]:  # late and repeated in between
        await apply(container, status(state), channel)

    events = await published(redis_client, channel.tenant_id)
    assert [(e.type, e.data["id"], e.data["status"]) for e in events] == [
        ("message.updated", message.id, "delivered"), ("message.updated", message.id, "read"),
    ]  # fmt: skip


async def test_a_status_overtaking_the_send_job_finds_its_message_by_tracker(
    container: punq.Container, channel: Channel, graph: FakeGraph
) -> None:
    assert channel.id is not None and channel.tenant_id is not None
    with tenant_context(TenantId(channel.tenant_id)):
        messages: MessageRepository = container.resolve(MessageRepository)
        message, _ = await messages.add_once(
            Message(
                conversation_id="c1", channel_id=channel.id, direction=Direction.OUTBOUND,
                type="text", text="Racing", sender=MessageSender(type=SenderType.AGENT),
                status=MessageStatus.QUEUED, created_at=BASE,
            )
        )  # fmt: skip
    assert message.id is not None and message.external_id is None
    unknown = status("delivered").model_copy(update={"tracker": str(ObjectId())})
    assert await apply(container, unknown, channel) is StatusOutcome.UNKNOWN
    delivered = status("delivered").model_copy(update={"tracker": message.id})
    assert await apply(container, delivered, channel) is StatusOutcome.MOVED
    found = await reread(container, channel, message)
    assert found.status == "delivered" and found.external_id == SENT_EXTERNAL_ID
    with tenant_context(TenantId(channel.tenant_id)):
        # The send job's answer, late: the same id, and `sent` does not move it back.
        assert await messages.attach_external_id(message.id, channel.id, SENT_EXTERNAL_ID)
        assert not await messages.attach_external_id(message.id, channel.id, "wamid.OTHER")
        sent = StatusChange(channel_id=channel.id, external_id=SENT_EXTERNAL_ID,
                            status=MessageStatus.SENT, at=at("sent"))  # fmt: skip
        assert await messages.apply_status(sent) is False
        # A redelivered send job sends nothing: the message is not queued any more.
        deliver: DeliverOutboundMessage = container.resolve(DeliverOutboundMessage)
        assert await deliver.execute(message.id, final_attempt=True) is DeliveryOutcome.SKIPPED
    final = await reread(container, channel, message)
    assert final.status == "delivered" and set(final.status_timestamps) == {"sent", "delivered"}
    assert graph.calls("send") == 0


async def test_mark_sent_gives_the_id_and_moves_to_sent_in_one_step_or_after_a_webhook(
    container: punq.Container, channel: Channel
) -> None:
    assert channel.id is not None and channel.tenant_id is not None
    with tenant_context(TenantId(channel.tenant_id)):
        messages: MessageRepository = container.resolve(MessageRepository)

        async def queued() -> Message:
            stored, _ = await messages.add_once(
                Message(
                    conversation_id="c1", channel_id=channel.id or "",
                    direction=Direction.OUTBOUND, type="text", text="Hi",
                    sender=MessageSender(type=SenderType.AGENT), status=MessageStatus.QUEUED,
                    status_timestamps={"queued": BASE}, created_at=BASE,
                )
            )  # fmt: skip
            return stored

        plain = await queued()
        assert plain.id is not None
        claim = await messages.claim_send(plain.id, now=BASE, until=BASE + timedelta(minutes=1))
        assert claim.message is not None and claim.message.id == plain.id
        again = await messages.claim_send(plain.id, now=BASE, until=BASE + timedelta(minutes=1))
        assert again.message is None and again.held_until == BASE + timedelta(minutes=1)
        sent = await messages.mark_sent(claim.message, "wamid.PLAIN", at("sent"))
        assert sent is not None and sent.status == "sent" and sent.external_id == "wamid.PLAIN"
        assert sent.status_timestamps == {"queued": BASE, "sent": at("sent")}
        assert sent == await messages.get(plain.id)  # not read back, but what is stored
        # Sent now: neither claimable nor held by anyone.
        late = await messages.claim_send(plain.id, now=BASE, until=BASE + timedelta(minutes=1))
        assert late.message is None and late.held_until is None

        overtaken = await queued()
        assert overtaken.id is not None
    read = status("read").model_copy(update={"tracker": overtaken.id})
    assert await apply(container, read, channel) is StatusOutcome.MOVED
    with tenant_context(TenantId(channel.tenant_id)):
        answer = await messages.mark_sent(overtaken, SENT_EXTERNAL_ID, at("sent"))
        assert answer is not None and answer.status == "read"
        assert answer.external_id == SENT_EXTERNAL_ID
        assert set(answer.status_timestamps) == {"queued", "sent", "read"}
        gone = overtaken.model_copy(update={"id": str(ObjectId())})
        assert await messages.mark_sent(gone, "wamid.X", BASE) is None
