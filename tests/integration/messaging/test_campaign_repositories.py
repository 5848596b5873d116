"""Campaigns, runs and recipient rows against the real Mongo-wire server: tenant scoping,
one run per window, idempotent snapshots, claiming under concurrency, guarded results,
monotonic statuses and counts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from api.domain.errors import InvalidInput, TenantRequired
from api.domain.messaging.campaigns import (
    EDITABLE,
    Audience,
    Campaign,
    CampaignRecipient,
    CampaignRun,
    CampaignStatus,
    RecipientAddress,
    RecipientOutcome,
    RecipientResult,
    RecipientStatus,
    RunStatus,
    Schedule,
    ScheduleType,
    SkipReason,
    TemplateRef,
)
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.messaging.campaigns import (
    BeanieCampaignRecipientRepository,
    BeanieCampaignRepository,
    BeanieCampaignRunRepository,
    CampaignRecipientDocument,
    PlatformCampaignSchedule,
)

TENANT_A = TenantId("a" * 24)
TENANT_B = TenantId("b" * 24)
NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def _campaign(name: str = "spring", **fields: object) -> Campaign:
    values: dict[str, object] = {
        "name": name,
        "channel_id": "c" * 24,
        "template": TemplateRef(name="promo", language="en"),
        "audience": Audience(tags_any=["vip"]),
        "created_at": NOW,
        "updated_at": NOW,
        **fields,
    }
    return Campaign.model_validate(values)


def _rows(run_id: str, count: int, *, campaign_id: str = "k" * 24) -> list[CampaignRecipient]:
    return [
        CampaignRecipient(
            campaign_id=campaign_id,
            run_id=run_id,
            contact_id=f"{index:024x}",
            address=RecipientAddress(phone=f"+1555{index:07d}", wa_id=f"1555{index:07d}"),
            variables={"body.1": f"name {index}"},
            updated_at=NOW,
        )
        for index in range(count)
    ]


@pytest.fixture
def campaigns() -> BeanieCampaignRepository:
    return BeanieCampaignRepository()


@pytest.fixture
def runs() -> BeanieCampaignRunRepository:
    return BeanieCampaignRunRepository()


@pytest.fixture
def recipients() -> BeanieCampaignRecipientRepository:
    return BeanieCampaignRecipientRepository()


async def test_campaigns_are_scoped_to_their_tenant(campaigns: BeanieCampaignRepository) -> None:
    with tenant_context(TENANT_A):
        mine = await campaigns.add(_campaign("a-campaign"))
    assert mine.id is not None
    with tenant_context(TENANT_B):
        assert await campaigns.get(mine.id) is None
        assert (await campaigns.page(status=None, cursor=None, limit=10)).items == []
        assert await campaigns.update(mine.id, {"name": "hijacked"}) is None
        assert await campaigns.delete(mine.id) is False
    with tenant_context(TENANT_A):
        kept = await campaigns.get(mine.id)
        assert kept is not None and kept.name == "a-campaign"
        assert kept.audience == Audience(tags_any=["vip"])
    with pytest.raises(TenantRequired):
        await campaigns.get(mine.id)


async def test_campaign_update_is_conditional_on_status(
    campaigns: BeanieCampaignRepository,
) -> None:
    with tenant_context(TENANT_A):
        campaign = await campaigns.add(_campaign(status=CampaignStatus.RUNNING))
        assert campaign.id is not None
        assert await campaigns.update(campaign.id, {"name": "x"}, statuses=EDITABLE) is None
        moved = await campaigns.update(
            campaign.id,
            {"status": CampaignStatus.PAUSED, "audience": Audience(all=True)},
            statuses=frozenset({CampaignStatus.RUNNING}),
        )
        assert moved is not None
        assert moved.status is CampaignStatus.PAUSED
        assert moved.audience.all is True
        assert moved.updated_at > NOW


async def test_campaign_pages_newest_first_by_cursor(campaigns: BeanieCampaignRepository) -> None:
    with tenant_context(TENANT_A):
        for index in range(5):
            at = NOW + timedelta(minutes=index)
            await campaigns.add(_campaign(f"c{index}", created_at=at, updated_at=at))
        first = await campaigns.page(status=None, cursor=None, limit=2)
        second = await campaigns.page(status=None, cursor=first.next_cursor, limit=2)
        third = await campaigns.page(status=None, cursor=second.next_cursor, limit=2)
        names = [c.name for c in [*first.items, *second.items, *third.items]]
        assert names == ["c4", "c3", "c2", "c1", "c0"]
        assert third.next_cursor is None
        drafts = await campaigns.page(status=CampaignStatus.SCHEDULED, cursor=None, limit=10)
        assert drafts.items == []


async def test_due_campaigns_are_read_across_tenants(campaigns: BeanieCampaignRepository) -> None:
    scheduled = {"status": CampaignStatus.SCHEDULED}
    schedule = Schedule(type=ScheduleType.AT, at=NOW)
    with tenant_context(TENANT_A):
        due_a = await campaigns.add(_campaign(**scheduled, schedule=schedule, next_run_at=NOW))
        await campaigns.add(
            _campaign(**scheduled, schedule=schedule, next_run_at=NOW + timedelta(hours=1))
        )
        await campaigns.add(_campaign(next_run_at=NOW))  # a draft is never due
    with tenant_context(TENANT_B):
        due_b = await campaigns.add(
            _campaign(**scheduled, schedule=schedule, next_run_at=NOW - timedelta(minutes=5))
        )
    due = await PlatformCampaignSchedule().due(NOW, limit=10)
    assert [(d.tenant_id, d.campaign_id) for d in due] == [
        (TENANT_B, due_b.id),
        (TENANT_A, due_a.id),
    ]
    assert due[1].next_run_at == NOW


async def test_one_run_per_window_even_when_two_create_it_at_once(
    runs: BeanieCampaignRunRepository,
) -> None:
    with tenant_context(TENANT_A):
        run = CampaignRun(campaign_id="k" * 24, window=NOW, started_at=NOW)
        created = await asyncio.gather(*(runs.create(run) for _ in range(6)))
        winners = [r for r in created if r is not None]
        assert len(winners) == 1
        found = await runs.for_window("k" * 24, NOW)
        assert found is not None and found.id == winners[0].id
        later = await runs.create(run.model_copy(update={"window": NOW + timedelta(days=1)}))
        assert later is not None
    with tenant_context(TENANT_B):  # the same window in another tenant is its own run
        assert await runs.create(run) is not None
        assert await runs.get(str(winners[0].id)) is None


async def test_run_update_is_conditional_and_pages_newest_window_first(
    runs: BeanieCampaignRunRepository,
) -> None:
    with tenant_context(TENANT_A):
        made = [
            await runs.create(
                CampaignRun(campaign_id="k" * 24, window=NOW + timedelta(days=d), started_at=NOW)
            )
            for d in range(3)
        ]
        ids = [r.id for r in made if r is not None and r.id is not None]
        assert len(ids) == 3
        sending = frozenset({RunStatus.SENDING})
        assert await runs.update(ids[0], {"status": RunStatus.PAUSED}, statuses=sending) is None
        moved = await runs.update(
            ids[0], {"status": RunStatus.SENDING, "recipients": 7}, statuses=None
        )
        assert moved is not None and moved.status is RunStatus.SENDING and moved.recipients == 7
        assert await runs.increment(ids[0], {"opted_out_skipped": 2})
        assert [r.id for r in await runs.in_status(sending, limit=10)] == [ids[0]]
        first = await runs.page("k" * 24, cursor=None, limit=2)
        second = await runs.page("k" * 24, cursor=first.next_cursor, limit=2)
        assert [r.id for r in [*first.items, *second.items]] == ids[::-1]
        assert second.next_cursor is None
        stored = await runs.get(ids[0])
        assert stored is not None and stored.opted_out_skipped == 2


async def test_snapshot_rows_are_added_once(recipients: BeanieCampaignRecipientRepository) -> None:
    with tenant_context(TENANT_A):
        rows = _rows("r" * 24, 30)
        assert await recipients.add_snapshot(rows[:20]) == 20
        # A redelivered snapshot: the first 20 are there, only the last 10 are new.
        assert await recipients.add_snapshot(rows) == 10
        assert await recipients.add_snapshot(rows) == 0
        assert await recipients.add_snapshot([]) == 0
        counts = await recipients.counts(run_id="r" * 24)
        assert counts.by_status == {"pending": 30}
    with tenant_context(TENANT_B):
        assert (await recipients.counts(run_id="r" * 24)).by_status == {}


async def test_two_concurrent_claimers_never_get_the_same_row(
    recipients: BeanieCampaignRecipientRepository,
) -> None:
    run_id = "r" * 24
    until = NOW + timedelta(minutes=1)
    with tenant_context(TENANT_A):
        await recipients.add_snapshot(_rows(run_id, 120))
        taken: dict[str, list[str]] = {"one": [], "two": [], "three": []}
        pending = 120
        # Round after round, the three claim at once: each reads the same first pending rows
        # and all but one lose them; a loser reads further until its batch is full. (Three
        # loops running freely proved nothing on a busy machine: one of them could take
        # every row while the others were still opening their connections.)
        while True:
            batches = await asyncio.gather(
                *(recipients.claim_batch(run_id, 7, name, until, NOW) for name in taken)
            )
            for name, batch in zip(taken, batches, strict=True):
                assert all(r.claim == name and r.status is RecipientStatus.SENDING for r in batch)
                taken[name] += [str(r.id) for r in batch]
            got = [len(batch) for batch in batches]
            assert sum(got) == min(3 * 7, pending)  # nothing left unclaimed while rows wait
            if pending >= 3 * 7:
                assert got == [7, 7, 7]  # each batch filled, the losers' with further rows
            pending -= sum(got)
            if not any(batches):
                break
        everyone = [row for rows in taken.values() for row in rows]
        assert len(everyone) == 120
        assert len(set(everyone)) == 120  # no row was claimed twice
        counts = await recipients.counts(run_id=run_id)
        assert counts.by_status == {"sending": 120}
        raw = await CampaignRecipientDocument.find({"run_id": run_id}).to_list()
        assert {d.attempts for d in raw} == {1}


async def test_claims_skip_rows_backed_off_until_their_time(
    recipients: BeanieCampaignRecipientRepository,
) -> None:
    run_id = "r" * 24
    with tenant_context(TENANT_A):
        await recipients.add_snapshot(_rows(run_id, 3))
        first = await recipients.claim_batch(run_id, 3, "one", NOW + timedelta(minutes=1), NOW)
        assert len(first) == 3
        later = NOW + timedelta(seconds=30)
        written = await recipients.record_results([
            RecipientResult(recipient_id=str(first[0].id), claim="one",
                            outcome=RecipientOutcome.RETRY, at=NOW, not_before=later,
                            error_code="130429", error_title="Rate limit hit"),
            RecipientResult(recipient_id=str(first[1].id), claim="one",
                            outcome=RecipientOutcome.RETRY, at=NOW, not_before=None),
        ])  # fmt: skip
        assert written == 2
        now_batch = await recipients.claim_batch(run_id, 5, "two", later, NOW)
        assert [r.id for r in now_batch] == [first[1].id]
        assert now_batch[0].attempts == 2
        assert await recipients.claim_batch(run_id, 5, "three", later, NOW) == []
        due = await recipients.claim_batch(run_id, 5, "four", later, later)
        assert [r.id for r in due] == [first[0].id]


async def test_results_are_written_only_under_the_rows_claim(
    recipients: BeanieCampaignRecipientRepository,
) -> None:
    run_id = "r" * 24
    with tenant_context(TENANT_A):
        await recipients.add_snapshot(_rows(run_id, 4))
        rows = await recipients.claim_batch(run_id, 4, "mine", NOW + timedelta(minutes=1), NOW)
        ids = [str(r.id) for r in rows]
        results = [
            RecipientResult(recipient_id=ids[0], claim="mine", outcome=RecipientOutcome.SENT,
                            at=NOW, wamid="wamid.A"),
            RecipientResult(recipient_id=ids[1], claim="mine", outcome=RecipientOutcome.FAILED,
                            at=NOW, error_code="131026", error_title="Undeliverable"),
            RecipientResult(recipient_id=ids[2], claim="mine", outcome=RecipientOutcome.SKIPPED,
                            at=NOW, skip_reason=SkipReason.OPTED_OUT),
            # Another worker's claim: not written.
            RecipientResult(recipient_id=ids[3], claim="theirs", outcome=RecipientOutcome.SENT,
                            at=NOW, wamid="wamid.X"),
        ]  # fmt: skip
        assert await recipients.record_results(results) == 3
        assert await recipients.record_results(results) == 0  # settled rows stay settled
        sent = await recipients.get(ids[0])
        assert sent is not None and sent.status is RecipientStatus.SENT
        assert sent.wamid == "wamid.A" and sent.sent_at == NOW
        untouched = await recipients.get(ids[3])
        assert untouched is not None and untouched.status is RecipientStatus.SENDING
        counts = await recipients.counts(run_id=run_id)
        assert counts.by_status == {"sent": 1, "failed": 1, "skipped": 1, "sending": 1}
        assert counts.failures_by_code == {"131026": 1}
        assert counts.skipped_by_reason == {"opted_out": 1}
    with tenant_context(TENANT_B):  # another tenant cannot settle these rows
        assert await recipients.record_results(results) == 0


async def test_expired_claims_are_the_sending_rows_past_their_claim(
    recipients: BeanieCampaignRecipientRepository,
) -> None:
    run_id = "r" * 24
    with tenant_context(TENANT_A):
        await recipients.add_snapshot(_rows(run_id, 3))
        short = await recipients.claim_batch(run_id, 1, "a", NOW + timedelta(seconds=10), NOW)
        await recipients.claim_batch(run_id, 1, "b", NOW + timedelta(minutes=10), NOW)
        assert await recipients.expired_claims(run_id, NOW) == []
        expired = await recipients.expired_claims(run_id, NOW + timedelta(minutes=1))
        assert [r.id for r in expired] == [short[0].id]
    with tenant_context(TENANT_B):
        assert await recipients.expired_claims(run_id, NOW + timedelta(hours=1)) == []


async def test_statuses_by_wamid_only_move_forward(
    recipients: BeanieCampaignRecipientRepository,
) -> None:
    run_id = "r" * 24
    with tenant_context(TENANT_A):
        await recipients.add_snapshot(_rows(run_id, 2))
        rows = await recipients.claim_batch(run_id, 2, "c", NOW + timedelta(minutes=1), NOW)
        await recipients.record_results([
            RecipientResult(recipient_id=str(r.id), claim="c", outcome=RecipientOutcome.SENT,
                            at=NOW, wamid=f"wamid.{i}")
            for i, r in enumerate(rows)
        ])  # fmt: skip
        later = NOW + timedelta(minutes=2)
        assert await recipients.apply_status_by_wamid("wamid.0", RecipientStatus.READ, later)
        # A late "delivered" after "read" changes nothing; nor a second "read".
        assert not await recipients.apply_status_by_wamid("wamid.0", RecipientStatus.DELIVERED, NOW)
        assert not await recipients.apply_status_by_wamid("wamid.0", RecipientStatus.READ, later)
        assert not await recipients.apply_status_by_wamid("wamid.0", RecipientStatus.FAILED, NOW)
        assert await recipients.apply_status_by_wamid("wamid.1", RecipientStatus.DELIVERED, NOW)
        assert await recipients.apply_status_by_wamid(
            "wamid.1", RecipientStatus.FAILED, later, ("131047", "Re-engagement message")
        )
        assert not await recipients.apply_status_by_wamid("wamid.9", RecipientStatus.READ, NOW)
        read = await recipients.get(str(rows[0].id))
        assert read is not None and read.status is RecipientStatus.READ and read.read_at == later
        failed = await recipients.get(str(rows[1].id))
        assert failed is not None and failed.status is RecipientStatus.FAILED
        assert failed.error_code == "131047" and failed.delivered_at == NOW
    with tenant_context(TENANT_B):  # another tenant's webhook cannot move these rows
        assert not await recipients.apply_status_by_wamid("wamid.1", RecipientStatus.READ, NOW)


async def test_counts_per_campaign_span_its_runs_and_pages_filter(
    recipients: BeanieCampaignRecipientRepository,
) -> None:
    campaign = "k" * 24
    with tenant_context(TENANT_A):
        await recipients.add_snapshot(_rows("1" * 24, 3, campaign_id=campaign))
        await recipients.add_snapshot(_rows("2" * 24, 2, campaign_id=campaign))
        await recipients.add_snapshot(_rows("3" * 24, 4, campaign_id="z" * 24))
        claimed = await recipients.claim_batch("2" * 24, 1, "c", NOW + timedelta(minutes=1), NOW)
        assert (await recipients.counts(campaign_id=campaign)).by_status == {
            "pending": 4,
            "sending": 1,
        }
        everything = await recipients.page(campaign, run_id=None, status=None, cursor=None, limit=2)
        seen = list(everything.items)
        cursor = everything.next_cursor
        while cursor:
            page = await recipients.page(campaign, run_id=None, status=None, cursor=cursor, limit=2)
            seen += page.items
            cursor = page.next_cursor
        assert len(seen) == 5 and len({r.id for r in seen}) == 5
        only_run = await recipients.page(
            campaign, run_id="1" * 24, status=None, cursor=None, limit=10
        )
        assert {r.run_id for r in only_run.items} == {"1" * 24} and len(only_run.items) == 3
        sending = await recipients.page(
            campaign, run_id=None, status=RecipientStatus.SENDING, cursor=None, limit=10
        )
        assert [r.id for r in sending.items] == [claimed[0].id]
        with pytest.raises(InvalidInput):
            await recipients.page(campaign, run_id=None, status=None, cursor="nope", limit=2)
    with tenant_context(TENANT_B):
        page = await recipients.page(campaign, run_id=None, status=None, cursor=None, limit=10)
        assert page.items == []
