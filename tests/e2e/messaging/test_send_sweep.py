"""A message whose send job was lost (the broker lost its data, or the queue was down
between storing and queuing) is sent once by the sweeper, through the real worker; a
message held by a run, or too recent, is left alone, and a second sweep sends nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import punq
from bson import ObjectId

from api.common.clock import utcnow
from api.domain.messaging.channels import Channel
from api.domain.messaging.messages import (
    Direction,
    Message,
    MessageRepository,
    MessageSender,
    MessageStatus,
    SenderType,
)
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.messaging.messages import MessageDocument
from api.usecases.messaging.sweep_outbound import SweepOutboundMessages
from tests.support.app import AppClient
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import stored_channel
from tests.support.onboarding import onboard, owner_headers
from tests.support.sending import customer_wrote, settled


async def queued_without_a_job(
    container: punq.Container, tenant_id: str, wrote: Message, text: str, age: timedelta
) -> str:
    """A message stored `queued` `age` ago whose send job was never queued."""
    created = utcnow() - age
    with tenant_context(TenantId(tenant_id)):
        repository: MessageRepository = container.resolve(MessageRepository)
        message, _ = await repository.add_once(
            Message(
                conversation_id=wrote.conversation_id, channel_id=wrote.channel_id,
                contact_id=wrote.contact_id, direction=Direction.OUTBOUND, type="text",
                text=text, content={"kind": "text", "body": text},
                sender=MessageSender(type=SenderType.AGENT, id="api"),
                status=MessageStatus.QUEUED, status_timestamps={"queued": created},
                created_at=created,
            )
        )  # fmt: skip
    assert message.id is not None
    return str(message.id)


def sends_of(graph: FakeGraph, text: str) -> int:
    return sum(
        1
        for seen in graph.requests
        if seen.endpoint == "send" and (seen.body.get("text") or {}).get("body") == text
    )


async def test_a_lost_send_job_is_queued_again_and_sends_once(
    worker: Path, client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme = await onboard(client, "acme")
    tenant_id = acme.tenant.id or ""
    owner = await owner_headers(client, acme)
    channel: Channel = await stored_channel(container, tenant_id, graph.base_url)
    wrote = await customer_wrote(container, channel)
    lost = await queued_without_a_job(container, tenant_id, wrote, "lost job", timedelta(hours=1))
    recent = await queued_without_a_job(container, tenant_id, wrote, "recent", timedelta(0))
    held = await queued_without_a_job(container, tenant_id, wrote, "held", timedelta(hours=1))
    doomed = await queued_without_a_job(container, tenant_id, wrote, "doomed", timedelta(hours=2))
    raw = MessageDocument.get_pymongo_collection()
    with tenant_context(TenantId(tenant_id)):  # a run holds it (claimed, alive)
        messages: MessageRepository = container.resolve(MessageRepository)
        now = utcnow()
        claim = await messages.claim_send(held, now=now, until=now + timedelta(minutes=10))
        assert claim.message is not None
    await raw.update_one({"_id": ObjectId(doomed)}, {"$set": {"requeues": 3}})  # runs kept dying
    sweep = container.resolve(SweepOutboundMessages)
    assert await sweep.execute() == 1  # the lost one only; the doomed one is given up
    gave_up = (await client.get(f"/api/v1/messages/{doomed}", headers=owner)).json()
    assert gave_up["status"] == "failed" and gave_up["error"]["title"] == "Not sent"
    sent = await settled(client, owner, lost)
    assert sent["status"] == "sent" and sends_of(graph, "lost job") == 1
    assert await sweep.execute() == 0  # settled: nothing to queue again
    for still in (recent, held):
        shown = await client.get(f"/api/v1/messages/{still}", headers=owner)
        assert shown.json()["status"] == "queued"
    assert [sends_of(graph, t) for t in ("recent", "held", "doomed")] == [0, 0, 0]
