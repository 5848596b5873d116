"""The meetings' pure rules: the lifecycle, times and zones, reminders and their times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from api.domain.crm.meetings import (
    TRANSITIONS,
    InvalidMeeting,
    MeetingStateConflict,
    MeetingStatus,
    allowed_from,
    check_transition,
    due_times,
    local_time,
)
from api.usecases.crm.meeting_rules import check_reminders, check_times, check_timezone

S = MeetingStatus
START = datetime(2030, 3, 31, 9, 0, tzinfo=UTC)
ALLOWED = {
    (S.PROPOSED, S.CONFIRMED), (S.PROPOSED, S.RESCHEDULED), (S.PROPOSED, S.CANCELLED),
    (S.CONFIRMED, S.RESCHEDULED), (S.CONFIRMED, S.CANCELLED), (S.CONFIRMED, S.COMPLETED),
    (S.CONFIRMED, S.NO_SHOW), (S.RESCHEDULED, S.CONFIRMED), (S.RESCHEDULED, S.RESCHEDULED),
    (S.RESCHEDULED, S.CANCELLED),
}  # fmt: skip


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_the_lifecycle_allows_exactly_its_transitions(current: S, target: S) -> None:
    if (current, target) in ALLOWED:
        check_transition(current, target)
    else:
        with pytest.raises(MeetingStateConflict) as caught:
            check_transition(current, target)
        assert caught.value.code == "meeting_state_conflict"


def test_final_statuses_go_nowhere_and_allowed_from_inverts_the_table() -> None:
    assert all(not TRANSITIONS[s] for s in (S.CANCELLED, S.COMPLETED, S.NO_SHOW))
    assert allowed_from(S.COMPLETED) == [S.CONFIRMED]
    assert set(allowed_from(S.CONFIRMED)) == {S.PROPOSED, S.RESCHEDULED}
    assert set(allowed_from(S.CANCELLED)) == {S.PROPOSED, S.CONFIRMED, S.RESCHEDULED}


def test_times_are_kept_in_utc_to_the_millisecond() -> None:
    plus_two = timezone(timedelta(hours=2))
    start, end = check_times(
        datetime(2030, 3, 31, 11, 0, 0, 123456, tzinfo=plus_two),
        datetime(2030, 3, 31, 12, 0, tzinfo=plus_two),
    )
    assert start == datetime(2030, 3, 31, 9, 0, 0, 123000, tzinfo=UTC)
    assert end == datetime(2030, 3, 31, 10, 0, tzinfo=UTC)
    assert start.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("starts", "ends"),
    [
        (START, START),
        (START, START - timedelta(minutes=1)),
        (START, START + timedelta(days=7, seconds=1)),
        (START.replace(tzinfo=None), START + timedelta(hours=1)),
    ],
)
def test_impossible_times_are_refused(starts: datetime, ends: datetime) -> None:
    with pytest.raises(InvalidMeeting):
        check_times(starts, ends)


def test_zones_must_be_iana_names() -> None:
    assert check_timezone("America/Sao_Paulo") == "America/Sao_Paulo"
    assert check_timezone(None) is None
    for bad in ("Mars/Olympus", "+02:00", "", "europe/berlin"):
        with pytest.raises(InvalidMeeting):
            check_timezone(bad)


def test_local_time_follows_the_zones_daylight_saving() -> None:
    # Berlin moves to summer time at 01:00 UTC on 31 March 2030.
    assert local_time(START, "Europe/Berlin").isoformat() == "2030-03-31T11:00:00+02:00"
    before = START - timedelta(hours=9)
    assert local_time(before, "Europe/Berlin").isoformat() == "2030-03-31T01:00:00+01:00"


def test_reminders_are_distinct_bounded_offsets_largest_first() -> None:
    assert check_reminders([30, 1440, 30, 0]) == [1440, 30, 0]
    for bad in ([-1], [40321], [1, 2, 3, 4, 5, 6]):
        with pytest.raises(InvalidMeeting):
            check_reminders(bad)


def test_only_reminders_still_ahead_are_planned() -> None:
    now = START - timedelta(minutes=90)
    assert due_times(START, [1440, 60, 30], now=now) == [
        (60, START - timedelta(minutes=60)),
        (30, START - timedelta(minutes=30)),
    ]
    assert due_times(START, [90], now=now) == []  # due right now: already late
