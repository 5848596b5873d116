"""Business hours: validation codes, open or closed at an instant (time zones, daylight
saving, overnight spans, holidays) and the closed period an instant falls in."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from api.domain.errors import InvalidInput
from api.domain.messaging.business_hours import (
    NEVER_OPENS,
    BusinessHours,
    InvalidTimeSpan,
    InvalidTimezone,
    OverlappingTimeSpans,
    check_business_hours,
    closed_period,
    is_open,
    next_opening,
)

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


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- validation ---------------------------------------------------------------------


def test_valid_hours_pass() -> None:
    check_business_hours(office())
    check_business_hours(hours(mon=[("09:00", "12:00"), ("12:00", "17:00")]))  # touching
    check_business_hours(hours(fri=[("22:00", "02:00")], sat=[("02:00", "06:00")]))
    check_business_hours(hours(sun=[("00:00", "24:00")]))
    check_business_hours(hours())  # no span at all: always closed, but valid


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "UTC+2"])
def test_an_unknown_time_zone_is_invalid_timezone(zone: str) -> None:
    with pytest.raises(InvalidTimezone) as raised:
        check_business_hours(hours(zone))
    assert raised.value.code == "invalid_timezone"
    assert raised.value.problems[0].loc == ("body", "business_hours", "timezone")


@pytest.mark.parametrize(
    ("start", "end"),
    [("9:00", "17:00"), ("09:00", "25:00"), ("24:00", "02:00"), ("09:60", "10:00"),
     ("", "10:00"), ("09:00", "09:00"), ("00:00", "00:00"), ("noon", "17:00")],
)  # fmt: skip
def test_a_bad_or_empty_span_is_invalid_time_span(start: str, end: str) -> None:
    with pytest.raises(InvalidTimeSpan) as raised:
        check_business_hours(hours(tue=[("08:00", "08:30"), (start, end)]))
    assert raised.value.code == "invalid_time_span"
    assert [p.loc for p in raised.value.problems] == [("body", "business_hours", "days", "tue", 1)]


@pytest.mark.parametrize(
    "days",
    [
        {"mon": [("09:00", "17:00"), ("16:00", "18:00")]},
        {"mon": [("09:00", "17:00"), ("09:00", "17:00")]},  # the same span twice
        {"mon": [("08:00", "20:00"), ("09:00", "10:00"), ("11:00", "12:00")]},
        {"mon": [("22:00", "03:00")], "tue": [("02:00", "05:00")]},  # overnight spill
        {"sun": [("23:00", "01:00")], "mon": [("00:30", "08:00")]},  # around the week
        {"sat": [("00:00", "24:00")], "fri": [("20:00", "00:30")]},
    ],
)
def test_overlapping_spans_are_refused(days: dict[str, list[tuple[str, str]]]) -> None:
    with pytest.raises(OverlappingTimeSpans) as raised:
        check_business_hours(hours("UTC", (), **days))
    assert raised.value.code == "overlapping_time_spans"
    assert "overlaps" in raised.value.detail and raised.value.problems


def test_the_codes_are_422_kinds() -> None:
    assert issubclass(InvalidTimezone, InvalidInput)
    assert issubclass(InvalidTimeSpan, InvalidInput)
    assert issubclass(OverlappingTimeSpans, InvalidInput)


# --- open or closed ------------------------------------------------------------------


def test_no_hours_is_always_open() -> None:
    assert is_open(None, utc(2026, 5, 2, 3, 0))
    assert closed_period(None, utc(2026, 5, 2, 3, 0)) is None


def test_office_hours_in_the_tenants_zone() -> None:
    berlin = office()  # 2026-05-04 is a Monday; Berlin is UTC+2 in summer
    assert not is_open(berlin, utc(2026, 5, 4, 6, 59))  # 08:59 local
    assert is_open(berlin, utc(2026, 5, 4, 7, 0))  # 09:00 local: start included
    assert is_open(berlin, utc(2026, 5, 4, 14, 59))
    assert not is_open(berlin, utc(2026, 5, 4, 15, 0))  # 17:00 local: end excluded
    assert not is_open(berlin, utc(2026, 5, 9, 10, 0))  # Saturday
    tokyo = office("Asia/Tokyo")  # UTC+9: Monday 09:00 is Monday 00:00 UTC
    assert is_open(tokyo, utc(2026, 5, 4, 0, 0))
    assert not is_open(tokyo, utc(2026, 5, 3, 23, 59))


def test_a_span_to_midnight() -> None:
    late = hours("UTC", mon=[("18:00", "24:00")])
    assert is_open(late, utc(2026, 5, 4, 23, 59))
    assert not is_open(late, utc(2026, 5, 5, 0, 0))


def test_an_overnight_span_runs_into_the_next_day() -> None:
    night = hours("UTC", mon=[("22:00", "02:00")], sun=[("23:00", "01:00")])
    assert not is_open(night, utc(2026, 5, 4, 21, 59))
    assert is_open(night, utc(2026, 5, 4, 22, 0))
    assert is_open(night, utc(2026, 5, 5, 1, 59))  # Tuesday morning, Monday's span
    assert not is_open(night, utc(2026, 5, 5, 2, 0))
    assert not is_open(night, utc(2026, 5, 5, 22, 30))  # Tuesday has no span
    assert is_open(night, utc(2026, 5, 4, 0, 30))  # Monday morning: Sunday's span
    assert next_opening(night, utc(2026, 5, 5, 2, 0)) == utc(2026, 5, 10, 23, 0)


def test_holidays_close_the_spans_starting_on_them() -> None:
    berlin = office(holidays=("2026-12-25",))  # a Friday
    assert not is_open(berlin, utc(2026, 12, 25, 10, 0))
    assert is_open(berlin, utc(2026, 12, 24, 10, 0))
    assert next_opening(berlin, utc(2026, 12, 24, 17, 0)) == utc(2026, 12, 28, 8, 0)
    night = hours("UTC", ("2026-05-05",), mon=[("22:00", "02:00")], tue=[("22:00", "02:00")])
    assert is_open(night, utc(2026, 5, 5, 1, 0))  # began the evening before the holiday
    assert not is_open(night, utc(2026, 5, 5, 23, 0))  # the holiday's own span is off
    assert next_opening(night, utc(2026, 5, 5, 3, 0)) == utc(2026, 5, 11, 22, 0)


# --- daylight saving -----------------------------------------------------------------


def test_opening_times_follow_the_wall_clock_across_daylight_saving() -> None:
    berlin = office()  # clocks go forward on Sunday 2026-03-29, back on Sunday 2026-10-25
    assert is_open(berlin, utc(2026, 3, 27, 8, 0))  # Friday 09:00 CET (UTC+1)
    assert not is_open(berlin, utc(2026, 3, 27, 7, 30))
    friday_evening = utc(2026, 3, 27, 17, 0)
    assert next_opening(berlin, friday_evening) == utc(2026, 3, 30, 7, 0)  # 09:00 CEST
    assert is_open(berlin, utc(2026, 3, 30, 7, 0))
    assert not is_open(berlin, utc(2026, 3, 30, 15, 0))  # 17:00 CEST
    assert next_opening(berlin, utc(2026, 10, 23, 16, 0)) == utc(2026, 10, 26, 8, 0)  # CET
    new_york = office("America/New_York")  # forward on Sunday 2026-03-08
    assert next_opening(new_york, utc(2026, 3, 6, 23, 0)) == utc(2026, 3, 9, 13, 0)


def test_an_opening_inside_the_spring_forward_gap_opens_at_the_jump() -> None:
    gap = hours(sun=[("02:30", "05:00")])  # 02:00-03:00 does not exist on 2026-03-29
    jump = utc(2026, 3, 29, 1, 0)  # 03:00 CEST
    assert next_opening(gap, utc(2026, 3, 28, 12, 0)) == jump
    assert not is_open(gap, utc(2026, 3, 29, 0, 59))  # 01:59 CET
    assert is_open(gap, jump)
    assert not is_open(gap, utc(2026, 3, 29, 3, 0))  # 05:00 CEST


def test_an_opening_repeated_by_the_fall_back_opens_the_first_time() -> None:
    twice = hours(sun=[("02:30", "04:00")])  # 02:30 happens twice on 2026-10-25
    assert next_opening(twice, utc(2026, 10, 24, 12, 0)) == utc(2026, 10, 25, 0, 30)


# --- closed periods ------------------------------------------------------------------


def test_a_closed_period_is_named_by_its_next_opening() -> None:
    berlin = office()
    monday = utc(2026, 5, 11, 7, 0).isoformat()
    friday_night = closed_period(berlin, utc(2026, 5, 8, 20, 0))
    saturday = closed_period(berlin, utc(2026, 5, 9, 11, 0))
    assert friday_night == saturday == monday  # one weekend, one period
    assert closed_period(berlin, utc(2026, 5, 11, 8, 0)) is None  # open
    assert closed_period(berlin, utc(2026, 5, 11, 16, 0)) == utc(2026, 5, 12, 7, 0).isoformat()


def test_hours_that_never_open() -> None:
    closed = hours()
    assert not is_open(closed, utc(2026, 5, 4, 10, 0))
    assert next_opening(closed, utc(2026, 5, 4, 10, 0)) is None
    assert closed_period(closed, utc(2026, 5, 4, 10, 0)) == NEVER_OPENS
    every_monday_off = hours(
        "UTC", tuple(str(date(2026, 5, 4).fromordinal(date(2026, 5, 4).toordinal() + 7 * n))
                     for n in range(60)), mon=[("09:00", "10:00")],
    )  # fmt: skip
    assert next_opening(every_monday_off, utc(2026, 5, 1, 0, 0)) == utc(2027, 6, 28, 9, 0)
