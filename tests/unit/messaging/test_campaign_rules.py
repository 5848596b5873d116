"""The campaign's state machine and stats, as pure functions."""

from __future__ import annotations

import pytest

from api.domain.messaging.campaigns import (
    EDITABLE,
    CampaignAction,
    CampaignStateConflict,
    CampaignStatus,
    RecipientCounts,
    campaign_stats,
    ensure_editable,
    transition,
)

S = CampaignStatus
A = CampaignAction
LEGAL = {
    (S.DRAFT, A.SCHEDULE): S.SCHEDULED,
    (S.DRAFT, A.START): S.RUNNING,
    (S.SCHEDULED, A.START): S.RUNNING,
    (S.RUNNING, A.PAUSE): S.PAUSED,
    (S.PAUSED, A.RESUME): S.RUNNING,
    (S.DRAFT, A.CANCEL): S.CANCELLED,
    (S.SCHEDULED, A.CANCEL): S.CANCELLED,
    (S.RUNNING, A.CANCEL): S.CANCELLED,
    (S.PAUSED, A.CANCEL): S.CANCELLED,
    (S.RUNNING, A.COMPLETE): S.COMPLETED,
    (S.RUNNING, A.FAIL): S.FAILED,
    (S.RUNNING, A.RESCHEDULE): S.SCHEDULED,
}


@pytest.mark.parametrize(("status", "action"), [(s, a) for s in S for a in A])
def test_every_pair_of_status_and_action(status: CampaignStatus, action: CampaignAction) -> None:
    expected = LEGAL.get((status, action))
    if expected is None:
        with pytest.raises(CampaignStateConflict) as caught:
            transition(status, action)
        assert caught.value.code == "campaign_state_conflict"
    else:
        assert transition(status, action) is expected


@pytest.mark.parametrize("status", list(S))
def test_only_draft_and_scheduled_campaigns_are_edited(status: CampaignStatus) -> None:
    if status in (S.DRAFT, S.SCHEDULED):
        ensure_editable(status)
    else:
        with pytest.raises(CampaignStateConflict):
            ensure_editable(status)
    assert {S.DRAFT, S.SCHEDULED} == EDITABLE


def test_stats_rates_count_every_row_at_least_sent() -> None:
    counts = RecipientCounts(
        by_status={"pending": 1, "sending": 2, "sent": 3, "delivered": 4, "read": 3,
                   "failed": 2, "skipped": 5},
        failures_by_code={"131026": 2},
        skipped_by_reason={"opted_out": 4, "no_address": 1},
    )  # fmt: skip
    stats = campaign_stats(counts)
    assert stats.recipients == 20
    assert stats.queued == 3
    assert (stats.sent, stats.delivered, stats.read, stats.failed) == (3, 4, 3, 2)
    assert stats.opted_out_skipped == 4 and stats.skipped == 5
    assert stats.delivery_rate == 0.7  # (4 + 3) / (3 + 4 + 3)
    assert stats.read_rate == 0.3
    assert stats.failures_by_code == {"131026": 2}
    assert stats.skipped_by_reason == {"opted_out": 4, "no_address": 1}
    empty = campaign_stats(RecipientCounts())
    assert empty.delivery_rate == 0.0 and empty.recipients == 0
