"""The out-of-hours decision on the real stores: outside the tenant's business hours (its
time zone, holidays) a conversation is due the auto-reply once per closed period, even
when its messages arrive at once; open, no message set or no hours: none."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import punq

from api.domain.messaging.conversations import Conversation, ConversationRepository
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.out_of_hours import DecideOutOfHoursReply, OutOfHoursReply
from api.usecases.tenants.create_tenant import CreatedTenant
from tests.fakes.clock import FakeUtcClock
from tests.support.app import AppClient, use_clock
from tests.support.inbox import stored_channel
from tests.support.people import two_tenants
from tests.support.routing import customer, put_settings, writes

CLOSED = "Thanks! We are closed now and answer from 9:00 (Berlin)."
BERLIN_OFFICE = {
    "timezone": "Europe/Berlin",
    "days": {d: [{"start": "09:00", "end": "17:00"}] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-05-14"],  # a Thursday
}


async def conversations(
    container: punq.Container, tenant: CreatedTenant, clock: FakeUtcClock, count: int
) -> list[Conversation]:
    tenant_id = tenant.tenant.id or ""
    number = str(abs(hash(tenant_id)) % 10**12)  # one channel per tenant, numbers unique
    where = await stored_channel(container, tenant_id, "http://127.0.0.1:9", phone_number_id=number)
    ids = [
        (await writes(container, where, customer(clock, n))).conversation_id for n in range(count)
    ]
    with tenant_context(TenantId(tenant_id)):
        repository = container.resolve(ConversationRepository)
        found = [await repository.get(i) for i in ids]
    return [c for c in found if c is not None]


class Decide:
    def __init__(self, container: punq.Container, tenant: CreatedTenant) -> None:
        self._use_case = container.resolve(DecideOutOfHoursReply)
        self._tenant = TenantId(tenant.tenant.id or "")

    async def __call__(self, conversation: Conversation) -> OutOfHoursReply | None:
        with tenant_context(self._tenant):
            return await self._use_case.execute(conversation)


async def test_one_reply_per_conversation_and_closed_period(
    client: AppClient, container: punq.Container
) -> None:
    clock = FakeUtcClock(datetime(2026, 5, 4, 10, 0, tzinfo=UTC))  # Monday 12:00 in Berlin
    use_clock(container, clock)
    acme, owner, _, _ = await two_tenants(client)
    await put_settings(client, owner, business_hours=BERLIN_OFFICE, out_of_hours_message=CLOSED)
    first, second, third = await conversations(container, acme, clock, 3)
    decide = Decide(container, acme)
    assert await decide(first) is None  # open

    clock.at = datetime(2026, 5, 4, 15, 0, tzinfo=UTC)  # 17:00 in Berlin: closed
    reply = await decide(first)
    assert reply == OutOfHoursReply(
        conversation_id=first.id or "", text=CLOSED, period="2026-05-05T07:00:00+00:00"
    )
    clock.advance(hours=3)
    assert await decide(first) is None  # the same night
    assert await decide(second) is not None  # another conversation
    burst = await asyncio.gather(*(decide(third) for _ in range(10)))
    assert sum(r is not None for r in burst) == 1  # concurrent messages: one reply

    clock.at = datetime(2026, 5, 5, 8, 0, tzinfo=UTC)  # Tuesday 10:00: open
    assert await decide(first) is None
    clock.at = datetime(2026, 5, 5, 20, 0, tzinfo=UTC)  # Tuesday night: a new period
    assert await decide(first) is not None

    clock.at = datetime(2026, 5, 8, 16, 0, tzinfo=UTC)  # Friday 18:00
    weekend = await decide(first)
    assert weekend is not None and weekend.period == "2026-05-11T07:00:00+00:00"
    clock.at = datetime(2026, 5, 10, 10, 0, tzinfo=UTC)  # Sunday
    assert await decide(first) is None  # one weekend, one period

    clock.at = datetime(2026, 5, 14, 10, 0, tzinfo=UTC)  # the holiday, midday
    holiday = await decide(first)
    assert holiday is not None and holiday.period == "2026-05-15T07:00:00+00:00"
    with tenant_context(TenantId(acme.tenant.id or "")):
        await container.resolve(DecideOutOfHoursReply).release(holiday)
    assert await decide(first) is not None  # a released claim (reply not queued) retries


async def test_no_reply_without_a_message_or_hours_or_in_another_tenant(
    client: AppClient, container: punq.Container
) -> None:
    clock = FakeUtcClock(datetime(2026, 5, 9, 12, 0, tzinfo=UTC))  # Saturday
    use_clock(container, clock)
    acme, acme_owner, beta, beta_owner = await two_tenants(client)
    [conversation] = await conversations(container, acme, clock, 1)
    decide = Decide(container, acme)
    assert await decide(conversation) is None  # defaults: always open, no message
    await put_settings(client, acme_owner, business_hours=BERLIN_OFFICE)
    assert await decide(conversation) is None  # closed, but no message to send
    await put_settings(client, acme_owner, out_of_hours_message=CLOSED)
    assert await decide(conversation) is None  # a message, but no hours: always open
    await put_settings(
        client, beta_owner, business_hours=BERLIN_OFFICE, out_of_hours_message=CLOSED
    )
    assert await decide(conversation) is None  # beta's settings are not acme's
    [beta_conversation] = await conversations(container, beta, clock, 1)
    # beta is closed: routing its customer's message claimed (and queued) the reply already
    assert await Decide(container, beta)(beta_conversation) is None


async def test_the_reply_is_queued_as_a_bot_message_once_per_period(
    client: AppClient, container: punq.Container
) -> None:
    clock = FakeUtcClock(datetime(2026, 5, 4, 18, 0, tzinfo=UTC))  # Monday 20:00 in Berlin
    use_clock(container, clock)
    acme, owner, _, _ = await two_tenants(client)
    await put_settings(client, owner, business_hours=BERLIN_OFFICE, out_of_hours_message=CLOSED)
    where = await stored_channel(container, acme.tenant.id or "", "http://127.0.0.1:9")
    first = await writes(container, where, customer(clock, 1))
    await writes(container, where, customer(clock, 1, seq=1))  # the same night: no second
    clock.at = datetime(2026, 5, 5, 18, 0, tzinfo=UTC)  # Tuesday night: a new period
    await writes(container, where, customer(clock, 1, seq=2))
    url = f"/api/v1/conversations/{first.conversation_id}/messages"
    history = (await client.get(url, params={"limit": 100}, headers=owner)).json()["items"]
    replies = [m for m in history if m["direction"] == "outbound"]
    assert len(history) == 5 and len(replies) == 2
    assert {(m["sender"]["type"], m["type"], m["text"]) for m in replies} == {
        ("bot", "text", CLOSED)
    }
