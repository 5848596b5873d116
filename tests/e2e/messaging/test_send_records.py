"""A send's `sent` record, against the real database and the fake Graph API: stored on the
worker's loop once the send has returned (the job's thread let go), while the message's
claim still holds it (a run meanwhile calls Meta no second time); at most `SentRecords`'
limit at once (a send finding no room waits, holding its thread); tried again while the
database is away; and a stopping process waits for those in flight before it closes its
clients."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import punq
import pytest
from bson import ObjectId

from api.common.background import drain_background
from api.config import Settings
from api.domain.errors import ServiceUnavailable
from api.domain.lifecycle import Closeable
from api.domain.messaging.messages import Message, MessageRepository
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.base.mongo import MongoClient
from api.usecases.messaging import deliver_outbound_message
from api.usecases.messaging.deliver_outbound_message import (
    DeliverOutboundMessage,
    DeliveryOutcome,
)
from api.usecases.messaging.sending_rules import SendInProgress, SentRecords
from api.wiring import running
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import stored_channel
from tests.support.sending import queued_message, stored


class HeldRecords:
    """The messages' repository of a slow database: `mark_sent` waits to be let go (`go`),
    fails its first `failures` calls as a database that is away, then stores for real."""

    def __init__(self, real: MessageRepository, failures: int = 0) -> None:
        self._real = real
        self.go = asyncio.Event()
        self.failures = failures
        self.calls = self.landed = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def mark_sent(self, message: Message, external_id: str, at: Any) -> Message | None:
        self.calls += 1
        await self.go.wait()
        if self.calls <= self.failures:
            raise ServiceUnavailable("database")
        sent = await self._real.mark_sent(message, external_id, at)
        self.landed += 1
        return sent


def sends(graph: FakeGraph) -> int:
    return sum(1 for seen in graph.requests if seen.endpoint == "send")


async def until(condition: Any, what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.01)


@pytest.fixture
def held(container: punq.Container) -> HeldRecords:
    return HeldRecords(container.resolve(MessageRepository))


async def test_the_send_returns_before_its_record_and_its_claim_holds_until_it_lands(
    container: punq.Container, graph: FakeGraph, held: HeldRecords
) -> None:
    channel = await stored_channel(container, str(ObjectId()), graph.base_url)
    message_id = await queued_message(container, channel, "Hello")
    deliver = container.instantiate(DeliverOutboundMessage, messages=held)
    with tenant_context(TenantId(channel.tenant_id or "")):
        outcome = await asyncio.wait_for(deliver.execute(message_id, final_attempt=False), 10)
        assert outcome is DeliveryOutcome.SENT and held.landed == 0
        assert (await stored(container, channel, message_id)).status == "queued"
        with pytest.raises(SendInProgress):  # the job delivered again meanwhile
            await deliver.execute(message_id, final_attempt=False)
        held.go.set()
        await drain_background(10)
    assert sends(graph) == 1 and held.landed == 1
    message = await stored(container, channel, message_id)
    assert message.status == "sent" and message.external_id is not None


async def test_a_send_finding_the_records_at_their_limit_waits_for_room(
    container: punq.Container, graph: FakeGraph, held: HeldRecords
) -> None:
    channel = await stored_channel(container, str(ObjectId()), graph.base_url)
    first, second = [await queued_message(container, channel, text) for text in ("1", "2")]
    records = SentRecords(1)
    deliver = container.instantiate(DeliverOutboundMessage, messages=held, records=records)
    with tenant_context(TenantId(channel.tenant_id or "")):
        assert await deliver.execute(first, final_attempt=True) is DeliveryOutcome.SENT
        waiting = asyncio.create_task(deliver.execute(second, final_attempt=True))
        await until(lambda: records.waiting == 1, "the second send did not wait for room")
        assert not waiting.done() and sends(graph) == 2  # sent; its record waits
        held.go.set()
        assert await asyncio.wait_for(waiting, 10) is DeliveryOutcome.SENT
        await drain_background(10)
    assert held.landed == 2
    assert [(await stored(container, channel, m)).status for m in (first, second)] == [
        "sent",
        "sent",
    ]


@pytest.mark.parametrize(("failures", "landed"), [(1, 1), (99, 0)])
async def test_a_failing_record_is_tried_again_then_logged_and_never_sends_twice(
    container: punq.Container,
    graph: FakeGraph,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    failures: int,
    landed: int,
) -> None:
    """Failing once, it lands on the next try; failing for good (3 tries here), it is
    logged and the claim keeps holding the message: a run meanwhile sends nothing."""
    monkeypatch.setattr(deliver_outbound_message, "_RECORD_PAUSES", (0.01, 0.01))
    channel = await stored_channel(container, str(ObjectId()), graph.base_url)
    records = HeldRecords(container.resolve(MessageRepository), failures=failures)
    records.go.set()
    message_id = await queued_message(container, channel, "Hello")
    deliver = container.instantiate(DeliverOutboundMessage, messages=records)
    with caplog.at_level(logging.WARNING), tenant_context(TenantId(channel.tenant_id or "")):
        assert await deliver.execute(message_id, final_attempt=False) is DeliveryOutcome.SENT
        await drain_background(10)
        if not landed:
            with pytest.raises(SendInProgress):  # not sent again while the claim holds
                await deliver.execute(message_id, final_attempt=False)
    assert (records.calls, records.landed, sends(graph)) == (min(failures + 1, 3), landed, 1)
    lost = f"message {message_id} sent but not recorded: ServiceUnavailable"
    assert (lost in caplog.text) == (not landed)
    status = (await stored(container, channel, message_id)).status
    assert status == ("sent" if landed else "queued")


class ClosingProbe:
    """A `Closeable` noting how many records had landed when the process closed."""

    def __init__(self, records: HeldRecords) -> None:
        self._records = records
        self.landed_at_close: int | None = None

    async def close(self) -> None:
        self.landed_at_close = self._records.landed


async def test_a_stopping_process_waits_for_the_records_in_flight(
    settings: Settings, graph: FakeGraph, mongo_client: MongoClient, db_name: str
) -> None:
    resources = running(settings)  # what a worker process opens, and closes when it stops
    container = await resources.__aenter__()
    channel = await stored_channel(container, str(ObjectId()), graph.base_url)
    message_id = await queued_message(container, channel, "Hello")
    held = HeldRecords(container.resolve(MessageRepository))
    probe = ClosingProbe(held)
    container.register(Closeable, instance=probe)
    deliver = container.instantiate(DeliverOutboundMessage, messages=held)
    with tenant_context(TenantId(channel.tenant_id or "")):
        assert await deliver.execute(message_id, final_attempt=True) is DeliveryOutcome.SENT
    stopping = asyncio.create_task(resources.__aexit__(None, None, None))
    done, _ = await asyncio.wait({stopping}, timeout=0.5)  # a check that it waits: no sleep
    assert not done and probe.landed_at_close is None
    held.go.set()
    await asyncio.wait_for(stopping, 30)
    assert probe.landed_at_close == 1  # closed after the record landed, not before
    document = await mongo_client[db_name]["inbox_messages"].find_one({"_id": ObjectId(message_id)})
    assert document is not None and document["status"] == "sent"
