"""Campaign runs end to end: the audience snapshot (opted-out and deleted contacts skipped,
variables rendered, idempotent), runs, stats and recipients over HTTP, pause / resume /
cancel on the run, and schedules fired by the dispatcher with a clock the test moves (one
run per window with two dispatchers at once; recurring in São Paulo's time)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import punq

from api.domain.messaging.campaigns import (
    CampaignRecipientRepository,
    CampaignRepository,
    CampaignRunRepository,
    CampaignStatus,
    RecipientOutcome,
    RecipientResult,
    RecipientStatus,
    RunStatus,
)
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.campaign_policy import CampaignPolicy
from api.usecases.messaging.campaign_rules import SEND_RUN_JOB, SNAPSHOT_RUN_JOB
from api.usecases.messaging.campaign_runs import SnapshotCampaignRun
from tests.fakes.clock import FakeUtcClock
from tests.fakes.jobs import FakeJobs
from tests.support.app import AppClient, assert_problem, use_clock
from tests.support.campaigns import (
    CAMPAIGNS,
    CONTACTS,
    SEGMENTS,
    add_contact,
    create_campaign,
    dispatcher,
    stock_tenant,
    use_jobs,
)
from tests.support.people import two_tenants

PROFILE = "/api/v1/tenant/profile"


def url(campaign: dict[str, Any], *rest: str) -> str:
    return "/".join([CAMPAIGNS, campaign["id"], *rest])


async def snapshot(container: punq.Container, tenant_id: str, run_id: str) -> int:
    with tenant_context(TenantId(tenant_id)):
        use_case: SnapshotCampaignRun = container.resolve(SnapshotCampaignRun)
        return await use_case.execute(run_id)


async def rows(client: AppClient, headers: dict[str, str], campaign: dict[str, Any],
               **params: Any) -> list[dict[str, Any]]:  # fmt: skip
    """Every recipient row, page by page."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get(url(campaign, "recipients"), params=query, headers=headers)
        assert page.status_code == 200, page.text
        found += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return found


async def test_a_run_snapshots_its_audience_and_reports_stats(
    client: AppClient, container: punq.Container
) -> None:
    acme, owner, _, beta_owner = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    channel_id = await stock_tenant(container, tenant_id)
    jobs = FakeJobs()
    use_jobs(container, jobs)
    ann = await add_contact(client, owner, name="Ann", phone="+14155550101", tags=["vip"],
                            attributes={"code": "ANN10"})  # fmt: skip
    bob = await add_contact(client, owner, phone="+14155550102", tags=["vip"])  # no name
    cid = await add_contact(client, owner, name="Cid", phone="+14155550103", tags=["vip"])
    dee = await add_contact(client, owner, name="Dee", phone="+14155550104", tags=["vip"],
                            attributes={"code": "DEE"})  # fmt: skip
    eve = await add_contact(client, owner, name="Eve", phone="+14155550105", tags=["vip"])
    fay = await add_contact(client, owner, name="Fay", email="fay@x.example.com", tags=["news"])
    await add_contact(client, owner, name="Gus", phone="+14155550107", tags=["other"])
    await add_contact(client, beta_owner, name="Theirs", phone="+14155550101", tags=["vip"])
    assert (await client.post(f"{CONTACTS}/{dee['id']}/opt-out", headers=owner)).status_code == 200
    assert (await client.delete(f"{CONTACTS}/{eve['id']}", headers=owner)).status_code == 204
    segment = await client.post(SEGMENTS, json={"name": "news", "filter": {"tags_any": ["news"]}},
                                headers=owner)  # fmt: skip
    campaign = await create_campaign(
        client, owner, channel_id,
        variables=[{"source": "field", "value": "name", "fallback": "friend"},
                   {"source": "attribute", "value": "code"}],
        audience={"tags_any": ["vip"], "segment_ids": [segment.json()["id"]],
                  "contact_ids": [ann["id"], eve["id"]]},
    )  # fmt: skip

    started = await client.post(url(campaign, "start"), headers=owner)
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "running"
    run_id = started.json()["current_run_id"]
    run = (await client.get(url(campaign, "runs", run_id), headers=owner)).json()
    assert run["status"] == "snapshotting" and run["recipients"] == 0
    assert jobs.queued == [(SNAPSHOT_RUN_JOB, {"run_id": run_id})]

    assert await snapshot(container, tenant_id, run_id) == 5
    assert await snapshot(container, tenant_id, run_id) == 5  # a redelivery adds nothing
    assert jobs.queued[1:] == [(SEND_RUN_JOB, {"run_id": run_id})]  # once
    run = (await client.get(url(campaign, "runs", run_id), headers=owner)).json()
    assert run["status"] == "sending"
    assert run["recipients"] == 5 and run["opted_out_skipped"] == 1
    assert run["window"] == run["started_at"]
    by_contact = {r["contact_id"]: r for r in await rows(client, owner, campaign)}
    # Eve was deleted (listed by id, still not in); Gus is not in the audience; Ann is in
    # twice (a tag and by id), once here.
    assert set(by_contact) == {ann["id"], bob["id"], cid["id"], dee["id"], fay["id"]}
    assert by_contact[ann["id"]]["status"] == "pending"
    assert by_contact[ann["id"]]["variables"] == {"body.1": "Ann", "body.2": "ANN10"}
    assert by_contact[ann["id"]]["address"] == {"phone": "+14155550101", "wa_id": None,
                                                "bsuid": None, "user_id": None}  # fmt: skip
    assert by_contact[bob["id"]]["status"] == "failed"  # no code and no fallback
    assert by_contact[bob["id"]]["error_code"] == "missing_variable"
    assert by_contact[cid["id"]]["error_code"] == "missing_variable"
    assert by_contact[dee["id"]]["status"] == "skipped"
    assert by_contact[dee["id"]]["skip_reason"] == "opted_out"
    assert by_contact[fay["id"]]["skip_reason"] == "no_address"  # an email only

    # The engine's part, as the send engine writes it: Ann is sent, then read.
    with tenant_context(TenantId(tenant_id)):
        recipients: CampaignRecipientRepository = container.resolve(CampaignRecipientRepository)
        now = datetime.now(UTC)
        claimed = await recipients.claim_batch(run_id, 10, "test", now + timedelta(minutes=1), now)
        assert [r.contact_id for r in claimed] == [ann["id"]]
        await recipients.record_results([RecipientResult(
            recipient_id=str(claimed[0].id), claim="test", outcome=RecipientOutcome.SENT,
            at=now, wamid="wamid.ann")])  # fmt: skip
        assert await recipients.apply_status_by_wamid("wamid.ann", RecipientStatus.READ, now)

    expected = {
        "recipients": 5, "queued": 0, "sent": 0, "delivered": 0, "read": 1, "failed": 2,
        "opted_out_skipped": 1, "skipped": 2,
        "skipped_by_reason": {"opted_out": 1, "no_address": 1},
        "failures_by_code": {"missing_variable": 2},
        "delivery_rate": 1.0, "read_rate": 1.0,
    }  # fmt: skip
    stats = await client.get(url(campaign, "stats"), headers=owner)
    assert stats.status_code == 200, stats.text
    assert stats.json() == expected
    detail = (await client.get(url(campaign, "runs", run_id), headers=owner)).json()
    assert detail["stats"] == expected
    skipped = await rows(client, owner, campaign, status="skipped", run_id=run_id)
    assert {r["contact_id"] for r in skipped} == {dee["id"], fay["id"]}
    assert (await client.get(url(campaign, "runs"), headers=owner)).json()["items"][0]["id"] == (
        run_id
    )
    # Beta sees none of it, and its own contact was never a row.
    assert_problem(await client.get(url(campaign, "stats"), headers=beta_owner), 404,
                   "not_found")  # fmt: skip


async def test_pause_resume_and_cancel_move_the_run(
    client: AppClient, container: punq.Container
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    channel_id = await stock_tenant(container, tenant_id)
    jobs = FakeJobs()
    use_jobs(container, jobs)
    for n in range(3):
        await add_contact(client, owner, name=f"C{n}", phone=f"+1415555020{n}", tags=["vip"])
    campaign = await create_campaign(client, owner, channel_id)
    run_id = (await client.post(url(campaign, "start"), headers=owner)).json()["current_run_id"]
    paused = await client.post(url(campaign, "pause"), headers=owner)  # while snapshotting
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    await snapshot(container, tenant_id, run_id)
    run = (await client.get(url(campaign, "runs", run_id), headers=owner)).json()
    assert run["status"] == "paused" and run["recipients"] == 3  # it waits for a resume
    assert [job for job, _ in jobs.queued] == [SNAPSHOT_RUN_JOB]  # nothing sends
    resumed = await client.post(url(campaign, "resume"), headers=owner)
    assert resumed.status_code == 200 and resumed.json()["status"] == "running"
    run = (await client.get(url(campaign, "runs", run_id), headers=owner)).json()
    assert run["status"] == "sending"
    assert jobs.queued[1:] == [(SEND_RUN_JOB, {"run_id": run_id})]
    assert (await client.post(url(campaign, "pause"), headers=owner)).status_code == 200
    run = (await client.get(url(campaign, "runs", run_id), headers=owner)).json()
    assert run["status"] == "paused"
    cancelled = await client.post(url(campaign, "cancel"), headers=owner)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    run = (await client.get(url(campaign, "runs", run_id), headers=owner)).json()
    assert run["status"] == "cancelled" and run["finished_at"] is not None
    listed = await rows(client, owner, campaign)
    assert {(r["status"], r["skip_reason"]) for r in listed} == {("skipped", "cancelled")}
    assert len(listed) == 3


async def test_a_cancel_during_the_snapshot_ends_the_run(
    client: AppClient, container: punq.Container
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    channel_id = await stock_tenant(container, tenant_id)
    jobs = FakeJobs()
    use_jobs(container, jobs)
    await add_contact(client, owner, name="Ann", phone="+14155550301", tags=["vip"])
    campaign = await create_campaign(client, owner, channel_id)
    run_id = (await client.post(url(campaign, "start"), headers=owner)).json()["current_run_id"]
    with tenant_context(TenantId(tenant_id)):
        runs: CampaignRunRepository = container.resolve(CampaignRunRepository)
        before = await runs.get(run_id)
    assert before is not None and before.status is RunStatus.SNAPSHOTTING
    assert (await client.post(url(campaign, "cancel"), headers=owner)).status_code == 200
    assert await snapshot(container, tenant_id, run_id) == 0  # a cancelled run is not read
    run = (await client.get(url(campaign, "runs", run_id), headers=owner)).json()
    assert run["status"] == "cancelled"
    assert await rows(client, owner, campaign) == []

    # A cancel landing while the snapshot reads: the campaign has moved, its run not yet.
    again = await create_campaign(client, owner, channel_id)
    run_id = (await client.post(url(again, "start"), headers=owner)).json()["current_run_id"]
    with tenant_context(TenantId(tenant_id)):
        campaigns: CampaignRepository = container.resolve(CampaignRepository)
        await campaigns.update(again["id"], {"status": CampaignStatus.CANCELLED})
    assert await snapshot(container, tenant_id, run_id) == 1
    run = (await client.get(url(again, "runs", run_id), headers=owner)).json()
    assert run["status"] == "cancelled" and run["finished_at"] is not None
    assert [(r["status"], r["skip_reason"]) for r in await rows(client, owner, again)] == [
        ("skipped", "cancelled")
    ]
    assert [job for job, _ in jobs.queued] == [SNAPSHOT_RUN_JOB] * 2  # nothing sends


async def test_an_at_schedule_runs_once_when_its_time_comes(
    client: AppClient, container: punq.Container
) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    channel_id = await stock_tenant(container, acme.tenant.id or "")
    beta_channel = await stock_tenant(container, beta.tenant.id or "")
    clock = FakeUtcClock(datetime.now(UTC).replace(microsecond=0))
    use_clock(container, clock)
    at = clock.now() + timedelta(hours=2)
    campaign = await create_campaign(client, owner, channel_id)
    scheduled = await client.post(url(campaign, "schedule"),
                                  json={"schedule": {"type": "at", "at": at.isoformat()}},
                                  headers=owner)  # fmt: skip
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["status"] == "scheduled"
    assert datetime.fromisoformat(scheduled.json()["next_run_at"]) == at
    theirs = await create_campaign(client, beta_owner, beta_channel,
                                   schedule={"type": "at", "at": at.isoformat()})  # fmt: skip
    assert (await client.post(url(theirs, "schedule"), headers=beta_owner)).status_code == 200

    jobs = FakeJobs()
    dispatch = dispatcher(container, clock, jobs)
    clock.advance(hours=2, seconds=-1)
    assert await dispatch.execute() == 0  # not yet
    clock.advance(seconds=1)
    assert await dispatch.execute() == 2  # both tenants'
    assert await dispatch.execute() == 0
    assert [job for job, _ in jobs.queued] == [SNAPSHOT_RUN_JOB, SNAPSHOT_RUN_JOB]
    fired = (await client.get(url(campaign), headers=owner)).json()
    assert fired["status"] == "running" and fired["next_run_at"] is None
    runs = (await client.get(url(campaign, "runs"), headers=owner)).json()["items"]
    assert len(runs) == 1 and datetime.fromisoformat(runs[0]["window"]) == at
    assert runs[0]["id"] == fired["current_run_id"]
    assert {"run_id": fired["current_run_id"]} in [args for _, args in jobs.queued]
    assert (await client.get(url(theirs), headers=beta_owner)).json()["status"] == "running"


async def test_two_dispatchers_at_once_make_one_run_per_window(
    client: AppClient, container: punq.Container
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel_id = await stock_tenant(container, acme.tenant.id or "")
    clock = FakeUtcClock(datetime.now(UTC).replace(minute=0, second=0, microsecond=0))
    use_clock(container, clock)
    campaigns = [
        await create_campaign(client, owner, channel_id, name=f"hourly {n}",
                              schedule={"type": "recurring", "cron": "0 * * * *"})
        for n in range(3)
    ]  # fmt: skip
    for campaign in campaigns:
        assert (await client.post(url(campaign, "schedule"), headers=owner)).status_code == 200
    window = clock.now() + timedelta(hours=1)
    clock.advance(hours=1)
    first_jobs, second_jobs = FakeJobs(), FakeJobs()
    launched = await asyncio.gather(
        dispatcher(container, clock, first_jobs).execute(),
        dispatcher(container, clock, second_jobs).execute(),
    )
    assert sum(launched) == 3
    queued = [args["run_id"] for _, args in first_jobs.queued + second_jobs.queued]
    assert len(queued) == 3 and len(set(queued)) == 3  # one snapshot per run
    for campaign in campaigns:
        read = (await client.get(url(campaign), headers=owner)).json()
        assert read["status"] == "running"
        assert datetime.fromisoformat(read["next_run_at"]) == window + timedelta(hours=1)
        runs = (await client.get(url(campaign, "runs"), headers=owner)).json()["items"]
        assert [datetime.fromisoformat(r["window"]) for r in runs] == [window]
        assert read["current_run_id"] in queued
    assert await dispatcher(container, clock, FakeJobs()).execute() == 0


async def test_recurring_in_the_tenants_time_zone(
    client: AppClient, container: punq.Container
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    channel_id = await stock_tenant(container, tenant_id)
    saved = await client.put(PROFILE, json={"timezone": "America/Sao_Paulo"}, headers=owner)
    assert saved.status_code == 200, saved.text
    # 07:00 in São Paulo (UTC-3): the run of 09:00 there is at 12:00 UTC today.
    clock = FakeUtcClock(datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0))
    use_clock(container, clock)
    today_nine = clock.now().replace(hour=12)
    daily = {"type": "recurring", "cron": "0 9 * * *"}
    campaign = await create_campaign(client, owner, channel_id, schedule=daily)
    assert campaign["schedule"]["timezone"] == "America/Sao_Paulo"
    scheduled = (await client.post(url(campaign, "schedule"), headers=owner)).json()
    assert datetime.fromisoformat(scheduled["next_run_at"]) == today_nine

    jobs = FakeJobs()
    clock.at = today_nine
    assert await dispatcher(container, clock, jobs).execute() == 1
    fired = (await client.get(url(campaign), headers=owner)).json()
    assert fired["status"] == "running"
    assert datetime.fromisoformat(fired["next_run_at"]) == today_nine + timedelta(days=1)
    runs = (await client.get(url(campaign, "runs"), headers=owner)).json()["items"]
    assert [datetime.fromisoformat(r["window"]) for r in runs] == [today_nine]

    # The engine finishing the run puts a recurring campaign back on its schedule; the
    # next window fires the next day at 09:00 São Paulo time, a run of its own.
    with tenant_context(TenantId(tenant_id)):
        repository: CampaignRepository = container.resolve(CampaignRepository)
        await repository.update(campaign["id"], {"status": CampaignStatus.SCHEDULED})
    clock.advance(days=1)
    assert await dispatcher(container, clock, jobs).execute() == 1
    runs = (await client.get(url(campaign, "runs"), headers=owner)).json()["items"]
    assert [datetime.fromisoformat(r["window"]) for r in runs] == [
        today_nine + timedelta(days=1), today_nine,
    ]  # fmt: skip
    # A running campaign's schedule does not change.
    tokyo = await client.patch(
        url(campaign),
        json={"schedule": {"type": "recurring", "cron": "0 9 * * *", "timezone": "Asia/Tokyo"}},
        headers=owner,
    )
    assert_problem(tokyo, 409, "campaign_state_conflict")  # running: not editable


async def test_a_snapshot_whose_job_was_lost_is_queued_again(
    client: AppClient, container: punq.Container
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    channel_id = await stock_tenant(container, tenant_id)
    await add_contact(client, owner, name="Ann", phone="+14155550401", tags=["vip"])
    clock = FakeUtcClock(datetime.now(UTC).replace(microsecond=0))
    use_clock(container, clock)
    lost = FakeJobs()  # the snapshot job queued here never runs: lost with its worker
    use_jobs(container, lost)
    campaign = await create_campaign(client, owner, channel_id)
    run_id = (await client.post(url(campaign, "start"), headers=owner)).json()["current_run_id"]
    assert lost.queued == [(SNAPSHOT_RUN_JOB, {"run_id": run_id})]
    policy: CampaignPolicy = container.resolve(CampaignPolicy)

    jobs = FakeJobs()
    clock.advance(seconds=policy.snapshot_lease_seconds - 1)
    assert await dispatcher(container, clock, jobs).execute() == 0
    assert jobs.queued == []  # still within its lease
    clock.advance(seconds=2)
    await dispatcher(container, clock, jobs).execute()
    assert jobs.queued == [(SNAPSHOT_RUN_JOB, {"run_id": run_id})]
    await dispatcher(container, clock, jobs).execute()
    assert len(jobs.queued) == 1  # its lease was renewed: queued once
    assert await snapshot(container, tenant_id, run_id) == 1
    clock.advance(seconds=policy.snapshot_lease_seconds * 2)
    await dispatcher(container, clock, jobs).execute()
    assert len(jobs.queued) == 1  # sending now: the snapshot is done
    run = (await client.get(url(campaign, "runs", run_id), headers=owner)).json()
    assert run["status"] == "sending" and run["recipients"] == 1
