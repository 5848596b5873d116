"""The tickets' SLA job with a clock the test moves: breaches recorded once (two jobs at
once), which timer and when, escalated once by email to the assignee and the department's
members; business hours, paused timers, and the first response found on the linked
conversation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import punq

from api.config import Settings
from api.domain.business_hours import BusinessHours
from api.infrastructure.persistence.base.mongo import MongoClient
from api.interfaces.jobs.schedule import beat_schedule
from api.usecases.crm.ticket_sla import TICKET_SLA_JOB, WatchTicketSlas
from tests.fakes.clock import FakeUtcClock
from tests.support.app import AppClient, use_clock
from tests.support.fake_graph import FakeGraph
from tests.support.people import audit_entries, signed_in, two_tenants
from tests.support.tickets import TICKETS, agent_message, customer, department, open_ticket

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)  # a Monday
OFFICE = BusinessHours.model_validate(
    {"timezone": "Europe/Berlin",
     "days": {d: [{"start": "09:00", "end": "17:00"}] for d in ("mon", "tue", "wed", "thu", "fri")}}
)  # fmt: skip


async def run_jobs(container: punq.Container, times: int = 1) -> int:
    job: WatchTicketSlas = container.resolve(WatchTicketSlas)
    return sum(await asyncio.gather(*(job.execute() for _ in range(times))))


async def escalations(mongo_client: MongoClient, db_name: str) -> list[tuple[str, Any]]:
    rows = (
        await mongo_client[db_name]["outbound_emails"]
        .find({"template": "ticket_sla_breached"})
        .to_list()
    )
    return sorted((row["to"], row["context"]["timer"]) for row in rows)


async def test_breaches_are_recorded_and_escalated_once(
    client: AppClient,
    container: punq.Container,
    graph: FakeGraph,
    mongo_client: MongoClient,
    db_name: str,
) -> None:
    clock = FakeUtcClock(NOW)
    use_clock(container, clock)
    acme, owner, _, _ = await two_tenants(client)
    ada, _ = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    bob, _ = await signed_in(client, acme, owner, "bob@acme.example.com", roles=["agent"])
    carl, _ = await signed_in(client, acme, owner, "carl@acme.example.com", roles=["agent"])
    contact_id, _, _ = await customer(container, acme, graph)
    support = await department(container, acme, first_response=60, resolution=120,
                               members=[ada["id"], bob["id"], carl["id"]])  # fmt: skip
    ticket = await open_ticket(client, owner, contact_id, department_id=support,
                               assignee_id=carl["id"])  # fmt: skip
    one = f"{TICKETS}/{ticket['id']}"

    clock.advance(minutes=59)
    assert await run_jobs(container) == 0
    clock.advance(minutes=2)
    assert await run_jobs(container, times=2) == 1  # two jobs at once: one records it
    after = (await client.get(one, headers=owner)).json()
    assert after["sla"]["breached"] is True
    assert after["sla"]["first_response_breached_at"] == "2026-05-04T11:00:00Z"
    assert after["sla"]["resolution_breached_at"] is None
    expected = sorted((f"{n}@acme.example.com", "first response") for n in ("ada", "bob", "carl"))
    assert await escalations(mongo_client, db_name) == expected
    assert await run_jobs(container, times=2) == 0
    assert await escalations(mongo_client, db_name) == expected

    listed = (await client.get(TICKETS, params={"breached": True}, headers=owner)).json()
    assert [t["id"] for t in listed["items"]] == [ticket["id"]]

    clock.advance(minutes=60)
    assert await run_jobs(container, times=2) == 1
    after = (await client.get(one, headers=owner)).json()
    assert after["sla"]["resolution_breached_at"] == "2026-05-04T12:00:00Z"
    assert len(await escalations(mongo_client, db_name)) == 6
    assert await run_jobs(container) == 0

    breaches = await audit_entries(client, owner, action="ticket.sla_breached")
    assert sorted(e["changes"]["timer"] for e in breaches) == ["first_response", "resolution"]
    assert all(e["actor_id"] is None for e in breaches)
    stats = (
        await client.get(
            f"{TICKETS}/stats",
            params={"since": "2026-05-04T00:00:00Z", "until": "2026-05-05T00:00:00Z"},
            headers=owner,
        )
    ).json()
    assert stats["open_breached"] == 1
    assert stats["first_response_breaches"] == 1 and stats["resolution_breaches"] == 1


async def test_timers_wait_for_business_hours(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    friday = datetime(2026, 5, 8, 14, 30, tzinfo=UTC)  # Friday 16:30 in Berlin
    clock = FakeUtcClock(friday)
    use_clock(container, clock)
    acme, owner, _, _ = await two_tenants(client)
    contact_id, _, _ = await customer(container, acme, graph)
    support = await department(container, acme, first_response=60, resolution=None, hours=OFFICE)
    ticket = await open_ticket(client, owner, contact_id, department_id=support)
    assert ticket["sla"]["first_response_due"] == "2026-05-11T07:30:00Z"  # Monday 09:30
    assert ticket["sla"]["resolution_due"] is None
    clock.at = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)  # Sunday
    assert await run_jobs(container) == 0
    clock.at = datetime(2026, 5, 11, 7, 31, tzinfo=UTC)
    assert await run_jobs(container) == 1


async def test_a_paused_resolution_timer_does_not_breach(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    clock = FakeUtcClock(NOW)
    use_clock(container, clock)
    acme, owner, _, _ = await two_tenants(client)
    contact_id, _, _ = await customer(container, acme, graph)
    support = await department(container, acme, first_response=None, resolution=60)
    ticket = await open_ticket(client, owner, contact_id, department_id=support)
    one = f"{TICKETS}/{ticket['id']}"
    clock.advance(minutes=30)
    await client.patch(one, json={"status": "on_hold"}, headers=owner)
    clock.advance(days=3)
    assert await run_jobs(container) == 0
    resumed = (await client.patch(one, json={"status": "open"}, headers=owner)).json()
    assert resumed["sla"]["resolution_due"] == "2026-05-07T11:00:00Z"  # 30 minutes left
    clock.advance(minutes=31)
    assert await run_jobs(container) == 1
    solved_in_time = await open_ticket(client, owner, contact_id, department_id=support)
    await client.patch(f"{TICKETS}/{solved_in_time['id']}", json={"status": "solved"},
                       headers=owner)  # fmt: skip
    clock.advance(hours=2)
    assert await run_jobs(container) == 0


async def test_the_linked_conversations_agent_reply_is_the_first_response(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    clock = FakeUtcClock(NOW)
    use_clock(container, clock)
    acme, owner, _, _ = await two_tenants(client)
    contact_id, conversation_id, channel_id = await customer(container, acme, graph)
    late_contact, late_conversation, late_channel = await customer(container, acme, graph, n=2)
    support = await department(container, acme, first_response=60, resolution=None)
    answered = await open_ticket(client, owner, contact_id, conversation_id=conversation_id,
                                 department_id=support)  # fmt: skip
    late = await open_ticket(client, owner, late_contact, conversation_id=late_conversation,
                             department_id=support)  # fmt: skip
    # A private note is no answer; the agent's message 20 minutes in is.
    await agent_message(container, acme, conversation_id, channel_id,
                        NOW + timedelta(minutes=10), private=True)  # fmt: skip
    await agent_message(container, acme, conversation_id, channel_id, NOW + timedelta(minutes=20))
    await agent_message(container, acme, late_conversation, late_channel,
                        NOW + timedelta(minutes=90))  # fmt: skip
    clock.advance(minutes=61)
    assert await run_jobs(container) == 1  # the late one, not yet answered at its due
    first = (await client.get(f"{TICKETS}/{answered['id']}", headers=owner)).json()
    assert first["first_responded_at"] == "2026-05-04T10:20:00Z"
    assert first["sla"]["breached"] is False
    clock.advance(minutes=60)  # past the late reply (11:30) and the 5-minute re-look
    assert await run_jobs(container) == 0
    second = (await client.get(f"{TICKETS}/{late['id']}", headers=owner)).json()
    assert second["sla"]["first_response_breached_at"] == "2026-05-04T11:00:00Z"
    assert second["first_responded_at"] == "2026-05-04T11:30:00Z"
    recorded = await audit_entries(client, owner, action="ticket.first_responded")
    assert sorted(e["resource_id"] for e in recorded) == sorted([answered["id"], late["id"]])


async def test_without_timers_the_conversations_reply_is_still_found(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    clock = FakeUtcClock(NOW)
    use_clock(container, clock)
    acme, owner, _, _ = await two_tenants(client)
    contact_id, conversation_id, channel_id = await customer(container, acme, graph)
    ticket = await open_ticket(client, owner, contact_id, conversation_id=conversation_id)
    assert ticket["sla"]["first_response_due"] is None
    clock.advance(minutes=1)
    assert await run_jobs(container) == 0  # looked: no reply yet
    await agent_message(container, acme, conversation_id, channel_id, NOW + timedelta(minutes=3))
    clock.advance(minutes=3)
    await run_jobs(container)  # not looked at again before 5 minutes
    one = f"{TICKETS}/{ticket['id']}"
    assert (await client.get(one, headers=owner)).json()["first_responded_at"] is None
    clock.advance(minutes=3)
    await run_jobs(container)
    assert (await client.get(one, headers=owner)).json()["first_responded_at"] == (
        "2026-05-04T10:03:00Z"
    )


async def test_the_sla_job_is_on_the_beat_schedule(settings: Settings) -> None:
    entry = beat_schedule(settings)["ticket-sla"]
    assert entry["task"] == TICKET_SLA_JOB
    assert entry["schedule"] == settings.ticket_sla_interval_seconds
