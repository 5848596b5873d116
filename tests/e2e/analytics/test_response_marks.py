"""What the dashboard's times are read from, recorded where they happen: the customer's
first message (`first_inbound_at`), the first agent reply after it (`first_response_at`,
by one conditional update: only the first counts, and a reply before the customer wrote
does not), and when and by whom a conversation was resolved (cleared on reopen)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import punq
from bson import ObjectId

from api.infrastructure.persistence.base.mongo import MongoClient
from tests.fakes.clock import FakeUtcClock
from tests.support.app import AppClient, use_clock
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import stored_channel
from tests.support.people import two_tenants
from tests.support.sending import CONVERSATIONS, customer_wrote, queued

TEMPLATE = {"name": "order_update", "language": "en_US", "components": []}


async def stored(mongo: MongoClient, db_name: str, conversation_id: str) -> dict[str, Any]:
    found = await mongo[db_name]["conversations"].find_one({"_id": ObjectId(conversation_id)})
    assert found is not None
    return found


def at_ms(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


async def test_the_first_agent_reply_after_the_customer_wrote_is_the_first_response(
    client: AppClient, container: punq.Container, graph: FakeGraph,
    mongo_client: MongoClient, db_name: str,
) -> None:  # fmt: skip
    acme, owner, _, _ = await two_tenants(client)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    wrote_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    inbound = await customer_wrote(container, channel, wrote_at)
    conversation_id = inbound.conversation_id
    before = await stored(mongo_client, db_name, conversation_id)
    assert before["first_inbound_at"] == wrote_at and "first_response_at" not in before

    body = {"conversation_id": conversation_id, "type": "text", "text": {"body": "Hello!"}}
    first = await queued(client, owner, body)
    await queued(client, owner, body)  # a second reply changes nothing
    after = await stored(mongo_client, db_name, conversation_id)
    assert after["first_response_at"] == at_ms(first["created_at"])
    assert after["first_reply_at"] == at_ms(first["created_at"])
    await customer_wrote(container, channel, wrote_at + timedelta(minutes=1), n=1)
    later = await stored(mongo_client, db_name, conversation_id)
    assert later["first_inbound_at"] == wrote_at  # the first message stays the first
    assert later["first_response_at"] == at_ms(first["created_at"])


async def test_a_reply_before_the_customer_wrote_is_not_a_response(
    client: AppClient, container: punq.Container, graph: FakeGraph,
    mongo_client: MongoClient, db_name: str,
) -> None:  # fmt: skip
    acme, owner, _, _ = await two_tenants(client)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    body = {"channel_id": channel.id, "to": "+16505551234", "type": "template",
            "template": TEMPLATE}  # fmt: skip
    opening = await queued(client, owner, body)
    conversation_id = opening["conversation_id"]
    opened = await stored(mongo_client, db_name, conversation_id)
    assert opened["first_reply_at"] == at_ms(opening["created_at"])
    assert "first_response_at" not in opened and "first_inbound_at" not in opened

    await customer_wrote(container, channel)
    reply = {"conversation_id": conversation_id, "type": "text", "text": {"body": "Thanks!"}}
    answer = await queued(client, owner, reply)
    answered = await stored(mongo_client, db_name, conversation_id)
    assert answered["first_response_at"] == at_ms(answer["created_at"])
    assert answered["first_reply_at"] == at_ms(opening["created_at"])


async def test_resolving_records_when_and_who_and_reopening_clears_it(
    client: AppClient, container: punq.Container, graph: FakeGraph,
    mongo_client: MongoClient, db_name: str,
) -> None:  # fmt: skip
    acme, owner, _, _ = await two_tenants(client)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    conversation_id = (await customer_wrote(container, channel)).conversation_id
    clock = FakeUtcClock(datetime(2026, 5, 4, 10, 0, 0, 123456, tzinfo=UTC))
    use_clock(container, clock)
    url = f"{CONVERSATIONS}/{conversation_id}"
    assert (await client.post(f"{url}/resolve", headers=owner)).status_code == 200
    resolved = await stored(mongo_client, db_name, conversation_id)
    assert resolved["resolved_at"] == datetime(2026, 5, 4, 10, 0, 0, 123000, tzinfo=UTC)
    assert resolved["resolved_by"] == acme.owner.id
    assert (await client.post(f"{url}/reopen", headers=owner)).status_code == 200
    reopened = await stored(mongo_client, db_name, conversation_id)
    assert "resolved_at" not in reopened and "resolved_by" not in reopened
    clock.advance(hours=1)
    assert (await client.post(f"{url}/resolve", headers=owner)).status_code == 200
    again = await stored(mongo_client, db_name, conversation_id)
    assert again["resolved_at"] == datetime(2026, 5, 4, 11, 0, 0, 123000, tzinfo=UTC)
