"""Meeting reminders end to end, with a clock the test moves: the job (two runs at once)
sends each due reminder once, by email (at the SMTP test server, through the session's
worker) to the contact and the owner, and by the meeting's WhatsApp template (at the
fake Graph API); a reschedule cancels the old schedule's reminders and plans new ones; a
cancel drops the rest; a lapsed claim is taken again without a second WhatsApp message."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import punq
from beanie import PydanticObjectId

from api.domain.crm.meetings import ReminderState
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.crm.meetings import MeetingReminderDocument
from api.usecases.crm.meeting_reminders import SendDueMeetingReminders
from tests.fakes.clock import FakeUtcClock
from tests.support.app import AppClient, use_clock
from tests.support.campaigns import add_contact
from tests.support.channels import connect
from tests.support.fake_graph import FakeGraph
from tests.support.meetings import MEETINGS, create_meeting, reminder_rows
from tests.support.people import two_tenants
from tests.support.smtp import SmtpCapture

ANN_PHONE = "+14155550101"
TEMPLATE = {"name": "meeting_reminder", "language": "en",
            "body_parameters": ["contact_name", "starts_at_local"]}  # fmt: skip


def template_sends(graph: FakeGraph) -> list[dict[str, Any]]:
    return [
        seen.body for seen in graph.requests
        if seen.endpoint == "send" and isinstance(seen.body, dict)
        and seen.body.get("type") == "template"
    ]  # fmt: skip


async def until(check: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("not reached in time")
        await asyncio.sleep(0.05)


async def beats(container: punq.Container) -> int:
    """Two runs of the reminder job at once (as two beats would start them)."""
    job: SendDueMeetingReminders = container.resolve(SendDueMeetingReminders)
    return sum(await asyncio.gather(job.execute(), job.execute()))


async def test_each_reminder_goes_once_and_follows_reschedules_and_cancels(
    worker: Path, smtp: SmtpCapture, client: AppClient, graph: FakeGraph
) -> None:
    container = client.container
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    await connect(client, owner, graph.base_url)
    ann = await add_contact(client, owner, name="Ann", email="ann@example.com", phone=ANN_PHONE)
    clock = FakeUtcClock(datetime.now(UTC).replace(microsecond=0))
    use_clock(container, clock)
    start = clock.at + timedelta(hours=3)
    meeting = await create_meeting(
        client, owner, ann["id"], start, timezone="Europe/Berlin", location="Room 4",
        reminders=[60, 120], reminder_template=TEMPLATE,
    )  # fmt: skip
    rows = await reminder_rows(container, tenant_id, meeting["id"])
    assert sorted((r.offset_minutes, r.version, r.state, r.due_at) for r in rows) == [
        (60, 1, ReminderState.PENDING, start - timedelta(minutes=60)),
        (120, 1, ReminderState.PENDING, start - timedelta(minutes=120)),
    ]
    assert await beats(container) == 0  # nothing due yet

    clock.advance(hours=1, seconds=1)  # the 120-minute reminder is due
    assert await beats(container) == 1
    assert await beats(container) == 0
    [to_ann] = await smtp.wait_for("ann@example.com")
    [to_owner] = await smtp.wait_for(acme.owner.email)
    text = to_ann.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    local = start.astimezone(ZoneInfo("Europe/Berlin"))
    assert "Quarterly review" in text and local.strftime("%H:%M") in text
    assert "(Europe/Berlin)" in text and "Room 4" in text and "120 minutes" in text
    assert str(to_ann.message["Subject"]).startswith("Reminder: Quarterly review")
    owner_text = to_owner.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "with Ann" in owner_text
    await until(lambda: len(template_sends(graph)) == 1)
    [sent] = template_sends(graph)
    assert sent["to"] in (ANN_PHONE, ANN_PHONE.lstrip("+"))
    assert sent["template"]["name"] == "meeting_reminder"
    assert sent["template"]["language"] == {"code": "en"}
    [body] = sent["template"]["components"]
    name, when = (p["text"] for p in body["parameters"])
    assert name == "Ann" and "(Europe/Berlin)" in when

    # Rescheduled a day later: the old 60-minute reminder is cancelled, two new planned.
    moved = await client.post(f"{MEETINGS}/{meeting['id']}/reschedule", json={
        "starts_at": (start + timedelta(days=1)).isoformat(),
        "ends_at": (start + timedelta(days=1, minutes=30)).isoformat(),
    }, headers=owner)  # fmt: skip
    assert moved.status_code == 200, moved.text
    rows = await reminder_rows(container, tenant_id, meeting["id"])
    assert sorted((r.version, r.offset_minutes, r.state) for r in rows) == [
        (1, 60, ReminderState.CANCELLED), (1, 120, ReminderState.SENT),
        (2, 60, ReminderState.PENDING), (2, 120, ReminderState.PENDING),
    ]  # fmt: skip
    clock.advance(hours=1)  # the old 60-minute time: nothing
    assert await beats(container) == 0
    clock.at = start + timedelta(days=1, minutes=-120, seconds=1)
    assert await beats(container) == 1
    await until(lambda: len(smtp.to("ann@example.com")) == 2)
    await until(lambda: len(template_sends(graph)) == 2)

    # Cancelled: the last reminder never goes.
    cancelled = await client.post(f"{MEETINGS}/{meeting['id']}/cancel", headers=owner)
    assert cancelled.status_code == 200
    clock.advance(hours=2)
    assert await beats(container) == 0
    rows = await reminder_rows(container, tenant_id, meeting["id"])
    assert [r.state for r in rows if r.version == 2 and r.offset_minutes == 60] == [
        ReminderState.CANCELLED
    ]
    assert len(smtp.to(acme.owner.email)) == 2 and len(smtp.to("ann@example.com")) == 2
    assert len(template_sends(graph)) == 2


async def test_a_lapsed_claim_is_taken_again_without_a_second_whatsapp_message(
    worker: Path, smtp: SmtpCapture, client: AppClient, graph: FakeGraph
) -> None:
    container = client.container
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    await connect(client, owner, graph.base_url)
    ann = await add_contact(client, owner, name="Ann", phone=ANN_PHONE)  # no email
    clock = FakeUtcClock(datetime.now(UTC).replace(microsecond=0))
    use_clock(container, clock)
    meeting = await create_meeting(
        client, owner, ann["id"], clock.at + timedelta(hours=2), reminders=[60],
        reminder_template=TEMPLATE,
    )  # fmt: skip
    clock.advance(hours=1, seconds=1)
    assert await beats(container) == 1
    await until(lambda: len(template_sends(graph)) == 1)
    # As if the sender had crashed after queuing the message: claimed, lease run out.
    [row] = await reminder_rows(container, tenant_id, meeting["id"])
    with tenant_context(TenantId(tenant_id)):
        await MeetingReminderDocument.find_one({"_id": PydanticObjectId(row.id)}).update(
            {
                "$set": {
                    "state": "claimed",
                    "lease_until": clock.at,
                    "whatsapp_done": False,
                    "email_done": True,
                }
            }
        )
    clock.advance(minutes=1)
    assert await beats(container) == 1
    [row] = await reminder_rows(container, tenant_id, meeting["id"])
    assert row.state is ReminderState.SENT and row.whatsapp_done
    messages = await client.get("/api/v1/conversations", headers=owner)
    [conversation] = messages.json()["items"]
    listed = await client.get(f"/api/v1/conversations/{conversation['id']}/messages",
                              headers=owner)  # fmt: skip
    assert len([m for m in listed.json()["items"] if m["type"] == "template"]) == 1
    assert len(template_sends(graph)) == 1
    assert smtp.to("ann@example.com") == []
    await smtp.wait_for(acme.owner.email)


async def test_a_reminder_found_after_the_start_is_skipped_and_a_past_offset_never_planned(
    client: AppClient, graph: FakeGraph
) -> None:
    container = client.container
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    ann = await add_contact(client, owner, name="Ann", email="ann@example.com", phone=ANN_PHONE)
    clock = FakeUtcClock(datetime.now(UTC).replace(microsecond=0))
    use_clock(container, clock)
    start = clock.at + timedelta(minutes=90)
    meeting = await create_meeting(client, owner, ann["id"], start, reminders=[120, 60],
                                   reminder_template=TEMPLATE)  # fmt: skip
    [row] = await reminder_rows(container, tenant_id, meeting["id"])  # 120 is already past
    assert (row.offset_minutes, row.state) == (60, ReminderState.PENDING)
    clock.at = start + timedelta(minutes=1)  # the beat was down until after the start
    assert await beats(container) == 0
    [row] = await reminder_rows(container, tenant_id, meeting["id"])
    assert row.state is ReminderState.SKIPPED
    assert template_sends(graph) == []
