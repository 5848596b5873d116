"""`after_open_minutes` and `open_minutes_between`: SLA timers counted in business hours,
across nights, weekends, holidays, overnight spans and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.domain.business_hours import BusinessHours, after_open_minutes, open_minutes_between

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def hours(
    zone: str = "Europe/Berlin", holidays: tuple[str, ...] = (), **days: Any
) -> BusinessHours:
    return BusinessHours.model_validate(
        {
            "timezone": zone,
            "days": {d: [{"start": s, "end": e} for s, e in spans] for d, spans in days.items()},
            "holidays": list(holidays),
        }
    )


def office(zone: str = "Europe/Berlin", holidays: tuple[str, ...] = ()) -> BusinessHours:
    return hours(zone, holidays, **{d: [("09:00", "17:00")] for d in WEEKDAYS})


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_none_hours_are_always_open() -> None:
    start = utc(2026, 5, 9, 23, 30)  # a Saturday night
    assert after_open_minutes(None, start, 90) == start + timedelta(minutes=90)
    assert open_minutes_between(None, start, start + timedelta(hours=3)) == 180


def test_zero_minutes_is_the_start_and_negative_is_refused() -> None:
    start = utc(2026, 5, 9, 23, 30)
    assert after_open_minutes(office(), start, 0) == start
    with pytest.raises(ValueError, match="negative"):
        after_open_minutes(office(), start, -1)


def test_within_one_open_span() -> None:
    # Monday 4 May 2026, 10:00 in Berlin is 08:00 UTC (CEST).
    assert after_open_minutes(office(), utc(2026, 5, 4, 8), 60) == utc(2026, 5, 4, 9)


def test_the_night_is_skipped() -> None:
    # Monday 16:30 Berlin + 60 open minutes: 30 today, 30 from Tuesday 09:00 -> 09:30.
    assert after_open_minutes(office(), utc(2026, 5, 4, 14, 30), 60) == utc(2026, 5, 5, 7, 30)


def test_a_start_while_closed_waits_for_the_opening() -> None:
    # Monday 06:00 Berlin (04:00 UTC): the clock starts at 09:00 (07:00 UTC).
    assert after_open_minutes(office(), utc(2026, 5, 4, 4), 15) == utc(2026, 5, 4, 7, 15)


def test_the_weekend_is_skipped() -> None:
    # Friday 8 May 16:00 Berlin + 120 open minutes: 60 on Friday, 60 on Monday 11 May.
    assert after_open_minutes(office(), utc(2026, 5, 8, 14), 120) == utc(2026, 5, 11, 8)
    # Saturday noon: nothing before Monday 09:00.
    assert after_open_minutes(office(), utc(2026, 5, 9, 10), 1) == utc(2026, 5, 11, 7, 1)


def test_holidays_are_skipped() -> None:
    # Friday 1 May 2026 is a holiday: Thursday 16:00 + 120 -> Monday 4 May 10:00 Berlin.
    start = utc(2026, 4, 30, 14)
    assert after_open_minutes(office(holidays=("2026-05-01",)), start, 120) == utc(2026, 5, 4, 8)
    assert after_open_minutes(office(), start, 120) == utc(2026, 5, 1, 8)


def test_several_days_of_open_minutes() -> None:
    # 3 working days of 8 hours from Monday 09:00 end on Wednesday 17:00 Berlin.
    assert after_open_minutes(office(), utc(2026, 5, 4, 7), 3 * 480) == utc(2026, 5, 6, 15)


def test_an_overnight_span_counts_past_midnight() -> None:
    night = hours("UTC", mon=[("22:00", "02:00")], tue=[("22:00", "02:00")])
    assert after_open_minutes(night, utc(2026, 5, 4, 23), 120) == utc(2026, 5, 5, 1)
    # 180 minutes are left of Monday's span at 23:00; the rest on Tuesday night.
    assert after_open_minutes(night, utc(2026, 5, 4, 23), 240) == utc(2026, 5, 5, 23)
    # A start after midnight inside Monday's span uses what is left of it.
    assert after_open_minutes(night, utc(2026, 5, 5, 1), 90) == utc(2026, 5, 5, 22, 30)


def test_spring_forward_shortens_a_span_by_the_lost_hour() -> None:
    # Sunday 29 March 2026, Berlin jumps from 02:00 to 03:00: 00:00-06:00 is 5 real hours.
    sunday = hours("Europe/Berlin", sun=[("00:00", "06:00")])
    start = utc(2026, 3, 28, 23)  # Sunday 00:00 CET
    assert after_open_minutes(sunday, start, 300) == utc(2026, 3, 29, 4)  # 06:00 CEST
    assert open_minutes_between(sunday, start, utc(2026, 3, 30, 0)) == 300
    # One minute more waits for the next Sunday.
    assert after_open_minutes(sunday, start, 301) == utc(2026, 4, 4, 22, 1)


def test_fall_back_lengthens_a_span_by_the_repeated_hour() -> None:
    # Sunday 25 October 2026, Berlin goes back from 03:00 to 02:00: 00:00-06:00 is 7 hours.
    sunday = hours("Europe/Berlin", sun=[("00:00", "06:00")])
    start = utc(2026, 10, 24, 22)  # Sunday 00:00 CEST
    assert open_minutes_between(sunday, start, utc(2026, 10, 26, 0)) == 420
    assert after_open_minutes(sunday, start, 420) == utc(2026, 10, 25, 5)  # 06:00 CET


def test_office_hours_keep_the_wall_clock_across_dst() -> None:
    # Friday 27 March 16:00 CET (15:00 UTC) + 120: Monday 30 March 10:00 CEST = 08:00 UTC.
    assert after_open_minutes(office(), utc(2026, 3, 27, 15), 120) == utc(2026, 3, 30, 8)


def test_hours_that_never_open_never_reach_the_minutes() -> None:
    assert after_open_minutes(hours(), utc(2026, 5, 4, 8), 1) is None
    assert open_minutes_between(hours(), utc(2026, 5, 4, 8), utc(2026, 6, 4, 8)) == 0
    # Open only on a holiday: never.
    one_day = hours("UTC", ("2026-05-04",), mon=[("09:00", "10:00")])
    assert after_open_minutes(one_day, utc(2026, 5, 4, 8), 60) == utc(2026, 5, 11, 10)


def test_open_minutes_between_counts_only_open_time() -> None:
    # Friday 16:00 Berlin to Monday 10:00 Berlin: 60 + 60 open minutes.
    assert open_minutes_between(office(), utc(2026, 5, 8, 14), utc(2026, 5, 11, 8)) == 120
    assert open_minutes_between(office(), utc(2026, 5, 11, 8), utc(2026, 5, 8, 14)) == 0


@pytest.mark.parametrize("minutes", [1, 59, 480, 481, 1000, 5000])
def test_between_inverts_after(minutes: int) -> None:
    start = utc(2026, 5, 7, 13, 17)
    due = after_open_minutes(office(), start, minutes)
    assert due is not None
    assert open_minutes_between(office(), start, due) == minutes
