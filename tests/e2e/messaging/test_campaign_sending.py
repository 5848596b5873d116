"""The campaign send engine against the real database, Redis and the fake Graph API
(in-process runs of `SendCampaignRun`; the session's worker delivers the results email
and processes the status webhooks posted over HTTP).

Every recipient gets one request, opted-out and deleted contacts none, the rate holds at
the fake, throughput refusals back off then send, 131049 is not retried (and the contact
is skipped by a later run), 131050 opts the contact out, pause stops and resume finishes
with nobody sent twice, status webhooks move the rows (and only the channel's tenant's).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import punq

from api.common.clock import utcnow
from api.domain.messaging.campaigns import (
    CampaignRecipient,
    CampaignRecipientRepository,
    CampaignRepository,
    CampaignRunRepository,
    CampaignStatus,
    RecipientResult,
    RecipientStatus,
    RunStatus,
)
from api.domain.messaging.channels import Channel, ChannelRepository
from api.domain.messaging.contacts import ConsentChange, ConsentSource, ContactRepository
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging import campaign_batches, send_campaign_run
from api.usecases.messaging.campaign_batches import SliceOutcome
from api.usecases.messaging.campaign_sending_rules import CampaignSendPolicy
from api.usecases.messaging.send_campaign_run import SendCampaignRun
from tests.support.app import AppClient
from tests.support.campaign_sending import (
    Arranged,
    busiest_second,
    campaign_of,
    rows_of,
    run_of,
    running_campaign,
    send_times,
    sends_to,
    set_tier,
)
from tests.support.channels import connect
from tests.support.fake_graph import PHONE_NUMBER_ID, FakeGraph, serve_fake_graph
from tests.support.onboarding import admin_headers, onboard, owner_headers
from tests.support.smtp import SmtpCapture
from tests.support.webhook_calls import post, wait_for

FIXTURES = Path(__file__).parents[2] / "fixtures" / "whatsapp"
APP_SECRET = "app-secret-0123456789"
OTHER_NUMBER = "106540352249999"


async def channel_for(
    client: AppClient, subdomain: str, graph: FakeGraph, number: str = PHONE_NUMBER_ID
) -> tuple[Any, Channel]:
    tenant = await onboard(client, subdomain)
    owner = await owner_headers(client, tenant)
    graph.numbers.setdefault(number, dict(graph.numbers[PHONE_NUMBER_ID]))
    connected = await connect(client, owner, graph.base_url, phone_number_id=number)
    with tenant_context(TenantId(tenant.tenant.id or "")):
        channel = await client.container.resolve(ChannelRepository).get(connected["id"])
    assert channel is not None
    return tenant, channel


async def send(container: punq.Container, arranged: Arranged) -> SliceOutcome:
    with arranged.scope():
        outcome: SliceOutcome = await container.resolve(SendCampaignRun).execute(arranged.run_id)
    return outcome


def status_payload(wamid: str, state: str, tracker: str | None = None, **extra: Any) -> Any:
    payload = json.loads((FIXTURES / "status_delivered.json").read_text())
    status = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    status.update(id=wamid, status=state, **extra)
    if tracker:
        status["biz_opaque_callback_data"] = tracker
    return payload


async def test_every_recipient_once_then_the_run_completes_and_the_owner_hears(
    worker: Path, smtp: SmtpCapture, client: AppClient, graph: FakeGraph
) -> None:
    tenant, channel = await channel_for(client, "acme", graph)
    container = client.container
    channel = await set_tier(container, channel, 1000)
    arranged = await running_campaign(container, channel, 12, rate=1000,
                                      owner_id=tenant.owner.id)  # fmt: skip
    assert await send(container, arranged) is SliceOutcome.FINISHED
    assert sends_to(graph) == {row.address.wa_id: 1 for row in arranged.rows}
    bodies = {s.body["to"]: s.body for s in graph.requests if s.endpoint == "send"}
    rows = await rows_of(container, arranged)
    for row in rows:
        assert row.status is RecipientStatus.SENT and row.wamid and row.sent_at
        body = bodies[row.address.wa_id]
        assert body["biz_opaque_callback_data"] == f"campaign:{row.id}"
        assert body["template"] == {
            "name": "spring_sale", "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": row.name}]}],
        }  # fmt: skip
    assert len({row.wamid for row in rows}) == 12
    run = await run_of(container, arranged)
    assert run.status is RunStatus.COMPLETED and run.finished_at and run.lease_holder is None
    assert (await campaign_of(container, arranged)).status is CampaignStatus.COMPLETED
    [mail] = await smtp.wait_for(tenant.owner.email)
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Spring sale" in text and "Sent:      12" in text and "Failed:    0" in text
    assert f"/campaigns/{arranged.campaign.id}/runs/{arranged.run_id}" in text
    with arranged.scope():  # a second run of the job finds nothing to do
        assert await container.resolve(SendCampaignRun).execute(arranged.run_id) is (
            SliceOutcome.BUSY
        )
    assert sum(sends_to(graph).values()) == 12


async def test_contacts_opted_out_or_deleted_after_the_snapshot_are_skipped(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    _, channel = await channel_for(client, "acme", graph)
    arranged = await running_campaign(container, channel, 5)
    opted, deleted = arranged.contacts[1], arranged.contacts[3]
    with arranged.scope():
        contacts: ContactRepository = container.resolve(ContactRepository)
        change = ConsentChange(opted_out=True, source=ConsentSource.MANUAL, at=utcnow())
        assert await contacts.change_consent(opted.id or "", change) is not None
        assert await contacts.soft_delete(deleted.id or "", utcnow())
    assert await send(container, arranged) is SliceOutcome.FINISHED
    sent = sends_to(graph)
    assert set(sent) == {c.wa_id for c in arranged.contacts} - {opted.wa_id, deleted.wa_id}
    assert set(sent.values()) == {1}
    by_contact = {row.contact_id: row for row in await rows_of(container, arranged)}
    assert by_contact[opted.id or ""].status is RecipientStatus.SKIPPED
    assert by_contact[opted.id or ""].skip_reason == "opted_out"
    assert by_contact[deleted.id or ""].skip_reason == "deleted"
    assert (await run_of(container, arranged)).status is RunStatus.COMPLETED


async def test_the_rate_is_never_exceeded_at_the_fake(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    _, channel = await channel_for(client, "acme", graph)
    rate, count = 20, 70
    arranged = await running_campaign(container, channel, count, rate=rate)
    assert await send(container, arranged) is SliceOutcome.FINISHED
    times = send_times(graph)
    assert len(times) == count
    # The campaign's bucket holds CAMPAIGN_BURST_SECONDS (0.1 s) of its rate: 2 messages.
    # Times are arrivals at the fake: on a busy machine a request granted on time can
    # arrive up to a scheduling delay late, bunched with the next ones; a quarter second
    # of such delay is allowed (without the bucket, all 70 would arrive within a second).
    assert busiest_second(times) <= rate * 1.25 + 2
    assert times[-1] - times[0] >= (count - 2) / rate - 0.2


class SlowRecords:
    """The recipients' repository of a database that records outcomes more slowly than the
    provider answers: counts the rows claimed and not yet recorded, at each claim."""

    def __init__(self, real: CampaignRecipientRepository) -> None:
        self._real = real
        self.claimed = self.recorded = self.peak = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def _claimed(self, rows: list[CampaignRecipient]) -> list[CampaignRecipient]:
        self.claimed += len(rows)
        self.peak = max(self.peak, self.claimed - self.recorded)
        return rows

    async def claim_range(self, *args: Any, **kwargs: Any) -> list[CampaignRecipient]:
        return self._claimed(await self._real.claim_range(*args, **kwargs))

    async def claim_batch(self, *args: Any, **kwargs: Any) -> list[CampaignRecipient]:
        return self._claimed(await self._real.claim_batch(*args, **kwargs))

    async def record_results(self, results: list[RecipientResult]) -> int:
        await asyncio.sleep(0.2)  # the slow database, not a wait for something to happen
        written = await self._real.record_results(results)
        self.recorded += len(results)
        return written


async def test_a_database_slower_than_the_sends_slows_the_claims(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    """A row's slot is held until its outcome is recorded: with records slower than the
    provider's answers, no more than `max_in_flight` rows are ever claimed and unrecorded
    (before, slots came back with the answers, claims went on at the provider's pace and
    outcomes fell behind until their claims ran out: `outcome_unknown` under load)."""
    _, channel = await channel_for(client, "acme", graph)
    channel = await set_tier(container, channel, 1000)
    policy = container.resolve(CampaignSendPolicy)
    container.register(CampaignSendPolicy, instance=replace(policy, batch_size=5, max_in_flight=10))
    slow = SlowRecords(container.resolve(CampaignRecipientRepository))
    container.register(CampaignRecipientRepository, instance=slow)
    arranged = await running_campaign(container, channel, 40, rate=1000)
    assert await send(container, arranged) is SliceOutcome.FINISHED
    assert sends_to(graph) == {row.address.wa_id: 1 for row in arranged.rows}
    assert (slow.claimed, slow.recorded) == (40, 40)
    assert slow.peak <= 10
    rows = await rows_of(container, arranged)
    assert {row.status for row in rows} == {RecipientStatus.SENT}


class SlowTailClaims:
    """The recipients' repository of a database where a claim of the pending rows past the
    snapshot's last windows (`claim_batch`: a read of the run's pending rows) is slow:
    counts those claims, and how many ran at once."""

    def __init__(self, real: CampaignRecipientRepository) -> None:
        self._real = real
        self.calls = self.running = self.peak = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def claim_batch(self, *args: Any, **kwargs: Any) -> list[CampaignRecipient]:
        self.calls += 1
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(0.3)  # the slow database, not a wait for something to happen
            return await self._real.claim_batch(*args, **kwargs)
        finally:
            self.running -= 1


async def test_past_the_last_window_the_rows_left_are_claimed_one_claim_at_a_time(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    """At a low rate each grant is a few tokens: a claim per grant of the rows left past
    the last window (a read of every pending row of the run) queued dozens of such reads
    on the database, and a 10,000-row run at 80/s read `completed` a minute after its last
    message (bench/README.md, Campaigns)."""
    _, channel = await channel_for(client, "acme", graph)
    slow = SlowTailClaims(container.resolve(CampaignRecipientRepository))
    container.register(CampaignRecipientRepository, instance=slow)
    arranged = await running_campaign(container, channel, 6, rate=20)
    assert await send(container, arranged) is SliceOutcome.FINISHED
    assert sends_to(graph) == {row.address.wa_id: 1 for row in arranged.rows}
    assert slow.peak == 1
    assert slow.calls <= 2  # found nothing: the run is settled, then finished
    assert (await run_of(container, arranged)).status is RunStatus.COMPLETED


async def test_a_throughput_refusal_backs_off_then_sends(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    _, channel = await channel_for(client, "acme", graph)
    arranged = await running_campaign(container, channel, 1)
    graph.fail("send", 130429)
    assert await send(container, arranged) is SliceOutcome.FINISHED
    [row] = await rows_of(container, arranged)
    assert row.status is RecipientStatus.SENT and row.attempts == 2 and row.wamid
    times = send_times(graph)
    assert len(times) == 2 and graph.failures_served == 1
    assert times[1] - times[0] >= 0.9  # Meta's throughput wait (1 s) at least


async def test_the_marketing_limit_is_not_retried_and_skips_the_contact_for_a_day(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    _, channel = await channel_for(client, "acme", graph)
    first = await running_campaign(container, channel, 2)
    graph.fail("send", 131049)
    assert await send(container, first) is SliceOutcome.FINISHED
    rows = await rows_of(container, first)
    failed = [row for row in rows if row.status is RecipientStatus.FAILED]
    assert [row.error_code for row in failed] == ["131049"]
    assert sum(sends_to(graph).values()) == 2  # the refused one was not retried
    limited = failed[0].contact_id
    # A later campaign to the same contacts, within 24 hours: the limited one is skipped.
    second = await running_campaign(container, channel, 0, name="Follow-up")
    with second.scope():
        from api.domain.messaging.campaigns import CampaignRecipientRepository

        recipients = container.resolve(CampaignRecipientRepository)
        await recipients.add_snapshot([
            row.model_copy(update={"id": None, "campaign_id": second.campaign.id,
                                   "run_id": second.run_id})
            for row in first.rows
        ])  # fmt: skip
    second.rows = first.rows
    assert await send(container, second) is SliceOutcome.FINISHED
    by_contact = {row.contact_id: row for row in await rows_of(container, second)}
    assert by_contact[limited].skip_reason == "recent_marketing_limit"
    assert sum(sends_to(graph).values()) == 3


async def test_a_marketing_opt_out_from_the_provider_opts_the_contact_out(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    _, channel = await channel_for(client, "acme", graph)
    arranged = await running_campaign(container, channel, 1)
    graph.fail("send", 131050)
    assert await send(container, arranged) is SliceOutcome.FINISHED
    [row] = await rows_of(container, arranged)
    assert row.status is RecipientStatus.FAILED and row.error_code == "131050"
    with arranged.scope():
        contact = await container.resolve(ContactRepository).get(row.contact_id)
    assert contact is not None and contact.opted_out and contact.opt_out_source == "provider"


async def test_pause_stops_the_run_and_resume_finishes_it_sending_nobody_twice(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    _, channel = await channel_for(client, "acme", graph)
    count = 40
    arranged = await running_campaign(container, channel, count, rate=10)
    sending = asyncio.create_task(send(container, arranged))
    await wait_for(lambda: _at_least(graph, 8), "8 sends")
    assert _slice_tasks()  # what the wait below sees end (its heartbeat, its claims)
    with arranged.scope():  # what the pause endpoint does
        await container.resolve(CampaignRepository).update(
            arranged.campaign.id or "", {"status": CampaignStatus.PAUSED}
        )
    assert await asyncio.wait_for(sending, 30) is SliceOutcome.STOPPED
    paused_at = sum(sends_to(graph).values())
    assert paused_at < count
    run = await run_of(container, arranged)
    assert run.status is RunStatus.PAUSED and run.lease_holder is None
    rows = await rows_of(container, arranged)
    assert {r.status for r in rows} <= {RecipientStatus.SENT, RecipientStatus.PENDING}
    assert sum(r.status is RecipientStatus.SENT for r in rows) == paused_at
    # Nothing more while paused: every task of the slice (its claims, its heartbeat) ended.
    await wait_for(lambda: _async(not _slice_tasks()), "the slice's tasks to end")
    assert sum(sends_to(graph).values()) == paused_at
    with arranged.scope():  # what the resume endpoint does
        await container.resolve(CampaignRepository).update(
            arranged.campaign.id or "", {"status": CampaignStatus.RUNNING}
        )
        await container.resolve(CampaignRunRepository).update(
            arranged.run_id, {"status": RunStatus.SENDING}
        )
    assert await send(container, arranged) is SliceOutcome.FINISHED
    assert sends_to(graph) == {row.address.wa_id: 1 for row in arranged.rows}


def _slice_tasks() -> list[asyncio.Task[Any]]:
    """The tasks of a campaign slice still running in this loop (the slice awaits its
    claims before it returns; its heartbeat is cancelled)."""
    sources = {send_campaign_run.__file__, campaign_batches.__file__}
    running = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if not task.done() and code is not None and code.co_filename in sources:
            running.append(task)
    return running


async def _async(value: bool) -> bool:
    return value


async def _at_least(graph: FakeGraph, n: int) -> bool:
    return sum(sends_to(graph).values()) >= n


async def two_tenants_sent(
    client: AppClient, graph: FakeGraph, count: int
) -> tuple[Any, Channel, Any, Arranged, Arranged]:
    """acme and globex, each with a campaign of `count` rows sent on its own number; the
    two fakes answer the same wamids (wamid.FAKE000000000001...): (acme, its channel,
    globex, acme's campaign, globex's)."""
    container = client.container
    tenant, channel = await channel_for(client, "acme", graph)
    other_graph = FakeGraph()
    async with serve_fake_graph(other_graph):
        globex, other_channel = await channel_for(client, "globex", other_graph, OTHER_NUMBER)
        ours = await running_campaign(container, channel, count)
        theirs = await running_campaign(container, other_channel, count, prefix="1650888")
        assert await send(container, ours) is SliceOutcome.FINISHED
        assert await send(container, theirs) is SliceOutcome.FINISHED
    return tenant, channel, globex, ours, theirs


async def test_status_webhooks_move_the_rows_of_their_tenant_only(
    worker: Path, client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    _, channel, _, ours, theirs = await two_tenants_sent(client, graph, 3)
    rows = await rows_of(container, ours)
    their_rows = await rows_of(container, theirs)
    assert {r.wamid for r in rows} == {r.wamid for r in their_rows}  # same ids, two tenants
    first, second, third = sorted(r.wamid or "" for r in rows)
    path = f"/api/v1/webhooks/whatsapp/{channel.id}"
    for payload in (
        status_payload(first, "delivered"),  # the two may be processed in either order
        status_payload(first, "read"),
        status_payload(second, "read"),
        status_payload(third, "failed", errors=[{"code": 131026, "title": "Undeliverable",
                                                 "message": "Message undeliverable"}]),
    ):  # fmt: skip
        assert (await post(client, path, payload, APP_SECRET)).status_code == 200

    async def settled() -> bool:
        now = {r.wamid: r for r in await rows_of(container, ours)}
        return (now[first].status, now[second].status, now[third].status) == (
            RecipientStatus.READ, RecipientStatus.READ, RecipientStatus.FAILED,
        ) and now[first].delivered_at is not None  # fmt: skip

    await wait_for(settled, "the rows to follow the statuses")
    # delivered after read: the row stays read and gets its delivery time
    late = await post(client, path, status_payload(second, "delivered"), APP_SECRET)
    assert late.status_code == 200

    async def delivered_late() -> bool:
        now = {r.wamid: r for r in await rows_of(container, ours)}
        return now[second].delivered_at is not None

    await wait_for(delivered_late, "the late delivery's time")
    now = {r.wamid: r for r in await rows_of(container, ours)}
    assert now[first].delivered_at and now[first].read_at
    assert now[second].status is RecipientStatus.READ
    assert now[second].delivered_at and now[second].read_at
    assert now[third].error_code == "131026"
    assert {r.status for r in await rows_of(container, theirs)} == {RecipientStatus.SENT}


async def test_a_status_naming_the_row_before_its_wamid_was_recorded(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    from api.domain.messaging.campaigns import CampaignRecipientRepository
    from api.usecases.messaging.apply_message_status import ApplyMessageStatus, StatusOutcome
    from tests.support.inbox import status_event

    _, channel = await channel_for(client, "acme", graph)
    arranged = await running_campaign(container, channel, 1)
    [row] = arranged.rows
    with arranged.scope():  # claimed, and its worker died before recording the answer
        recipients = container.resolve(CampaignRecipientRepository)
        until = utcnow() + timedelta(minutes=2)
        [claimed] = await recipients.claim_batch(arranged.run_id, 1, "dead", until, utcnow())
    event = status_event("sent", external_id="wamid.LATE1", tracker=f"campaign:{row.id}")
    apply: ApplyMessageStatus = container.resolve(ApplyMessageStatus)
    assert await apply.execute(event, channel) is StatusOutcome.MOVED
    [now] = await rows_of(container, arranged)
    assert now.status is RecipientStatus.SENT and now.wamid == "wamid.LATE1"
    assert claimed.status is RecipientStatus.SENDING
    # Another tenant's channel with the same tracker moves nothing.
    _, other = await channel_for(client, "globex", graph, OTHER_NUMBER)
    assert await apply.execute(event, other) is StatusOutcome.UNKNOWN


async def test_a_recurring_campaign_goes_back_to_scheduled_for_its_next_window(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    from api.domain.messaging.campaigns import Schedule, ScheduleType

    _, channel = await channel_for(client, "acme", graph)
    arranged = await running_campaign(container, channel, 2)
    daily = Schedule(type=ScheduleType.RECURRING, cron="0 9 * * *", timezone="Europe/Paris")
    with arranged.scope():
        await container.resolve(CampaignRepository).update(
            arranged.campaign.id or "", {"schedule": daily}
        )
    assert await send(container, arranged) is SliceOutcome.FINISHED
    campaign = await campaign_of(container, arranged)
    assert campaign.status is CampaignStatus.SCHEDULED
    assert campaign.next_run_at is not None and campaign.next_run_at > utcnow()
    assert campaign.next_run_at.astimezone(ZoneInfo("Europe/Paris")).hour == 9
    assert (await run_of(container, arranged)).status is RunStatus.COMPLETED


async def test_a_refused_token_pauses_the_campaign_and_marks_the_channel(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    _, channel = await channel_for(client, "acme", graph)
    arranged = await running_campaign(container, channel, 6, rate=1)
    graph.fail("send", 190)
    assert await send(container, arranged) is SliceOutcome.STOPPED
    assert sum(sends_to(graph).values()) == 1  # one token, one request: nothing more
    run = await run_of(container, arranged)
    assert run.status is RunStatus.PAUSED and run.error and "token" in run.error
    assert (await campaign_of(container, arranged)).status is CampaignStatus.PAUSED
    with arranged.scope():
        stored = await container.resolve(ChannelRepository).get(channel.id or "")
    assert stored is not None and stored.status.value == "token_invalid"
    rows = await rows_of(container, arranged)
    assert sorted(r.status.value for r in rows) == ["failed"] + ["pending"] * 5


def button_reply(wa_id: str, quoted: str, message_id: str, phone_number_id: str) -> Any:
    """The customer pressed a quick-reply button of the template message `quoted`."""
    payload = json.loads((FIXTURES / "template_button.json").read_text())
    value = payload["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = phone_number_id
    value["contacts"][0].update(wa_id=wa_id, user_id=None)
    [message] = value["messages"]
    # Meta's timestamps are whole seconds: the next one, so that the reply comes after
    message.update(id=message_id, timestamp=str(int(utcnow().timestamp()) + 1), context={
        "from": "15550783881", "id": quoted,
    })  # fmt: skip
    message["from"] = wa_id
    message.pop("from_user_id")
    return payload


async def test_a_reply_quoting_a_campaign_message_brings_it_into_the_conversation(
    worker: Path, client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    tenant, channel, globex, ours, theirs = await two_tenants_sent(client, graph, 2)
    owner = await owner_headers(client, tenant)
    rows = await rows_of(container, ours)
    row, untouched = sorted(rows, key=lambda r: r.wamid or "")
    assert row.wamid in {r.wamid for r in await rows_of(container, theirs)}  # same id, two tenants
    path = f"/api/v1/webhooks/whatsapp/{channel.id}"
    wa_id = row.address.wa_id or ""
    delivered = await post(client, path, status_payload(row.wamid or "", "delivered"), APP_SECRET)
    assert delivered.status_code == 200
    reply = button_reply(wa_id, row.wamid or "", "wamid.REPLY1", PHONE_NUMBER_ID)
    assert (await post(client, path, reply, APP_SECRET)).status_code == 200

    async def conversation_messages() -> list[dict[str, Any]] | None:
        listed = (await client.get("/api/v1/conversations", headers=owner)).json()["items"]
        if not listed:
            return None
        found = await client.get(f"/api/v1/conversations/{listed[0]['id']}/messages",
                                 headers=owner)  # fmt: skip
        items: list[dict[str, Any]] = found.json()["items"]
        return items if len(items) == 2 else None

    items = await wait_for(conversation_messages, "the reply and the quoted campaign message")
    by_direction = {m["direction"]: m for m in items}
    quoted, answer = by_direction["outbound"], by_direction["inbound"]
    assert quoted["sender"] == {"type": "campaign", "id": ours.campaign.id}
    assert (quoted["type"], quoted["external_id"]) == ("template", row.wamid)
    assert quoted["content"]["name"] == "spring_sale"
    assert quoted["content"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": row.name}]}
    ]
    assert quoted["conversation_id"] == answer["conversation_id"]
    assert quoted["created_at"] < answer["created_at"]
    assert answer["reply_to_id"] == quoted["id"] and answer["type"] == "template_button"
    assert quoted["status"] in ("sent", "delivered")  # the delivered status may come after
    # a later status moves both the message and the campaign's row (the campaign's stats)
    read = await post(client, path, status_payload(row.wamid or "", "read"), APP_SECRET)
    assert read.status_code == 200

    async def both_read() -> bool:
        message = (await client.get(f"/api/v1/messages/{quoted['id']}", headers=owner)).json()
        now = {r.wamid: r for r in await rows_of(container, ours)}[row.wamid]
        return message["status"] == "read" and now.status is RecipientStatus.READ

    await wait_for(both_read, "the message and its row to be read")
    # the other tenant's row with the same id stays as it was; its owner sees none of this
    assert {r.status for r in await rows_of(container, theirs)} == {RecipientStatus.SENT}
    globex_owner = await owner_headers(client, globex)
    assert (await client.get("/api/v1/conversations", headers=globex_owner)).json()["items"] == []
    hidden = await client.get(f"/api/v1/messages/{quoted['id']}", headers=globex_owner)
    assert hidden.status_code == 404
    # a redelivered reply stores nothing more; a quote of an unknown id stores only the reply
    assert (await post(client, path, reply, APP_SECRET)).status_code == 200
    unknown = button_reply(
        untouched.address.wa_id or "", "wamid.NOT_OURS", "wamid.REPLY2", PHONE_NUMBER_ID
    )
    assert (await post(client, path, unknown, APP_SECRET)).status_code == 200

    async def second_conversation() -> list[dict[str, Any]] | None:
        listed = (await client.get("/api/v1/conversations", headers=owner)).json()["items"]
        return listed if len(listed) == 2 else None

    listed = await wait_for(second_conversation, "the second customer's conversation")
    other = next(c for c in listed if c["id"] != quoted["conversation_id"])
    only = (await client.get(f"/api/v1/conversations/{other['id']}/messages",
                             headers=owner)).json()["items"]  # fmt: skip
    assert [(m["direction"], m["reply_to_id"]) for m in only] == [("inbound", None)]
    first = (await client.get(f"/api/v1/conversations/{quoted['conversation_id']}/messages",
                              headers=owner)).json()["items"]  # fmt: skip
    assert len(first) == 2
    # the platform's figures count the quoted message once, as its campaign's row
    today = utcnow().date()
    figures = await client.get(
        "/api/v1/analytics/platform", headers=await admin_headers(client),
        params={"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()},
    )  # fmt: skip
    totals = figures.json()["totals"]
    assert (totals["messages_outbound"], totals["messages_inbound"]) == (4, 2)
