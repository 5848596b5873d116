"""Business hours (the inbox's, an AI assistant's): when someone answers, in local time.

`BusinessHours` is a time zone (IANA), opening spans per weekday and holidays. The rules:

- A span is `{start, end}` in local wall-clock time (`HH:MM`, `end` may be `24:00`). An
  `end` earlier than its `start` runs overnight into the next day (`22:00`-`02:00`);
  `end == start` is refused (an empty span).
- Spans may touch (`09:00-12:00`, `12:00-17:00`) but never overlap, overnight spill and
  Sunday-into-Monday included.
- A holiday (a local date) closes the spans that start on it; an overnight span that
  started the evening before still runs until its end.
- Wall-clock times are compared as written, so a daylight-saving change moves nothing:
  `09:00` is nine in the morning in the tenant's zone whatever its offset that day. An
  opening time that does not exist (inside a spring-forward gap) opens when the clock
  jumps past it; one that exists twice (fall back) opens at the first.
- No `business_hours` (None) means always open; hours with no span at all mean always
  closed.

A closed period runs from a closing time to the next opening; it is named by that next
opening (`closed_period`), so a marker keyed by it is claimed once per period.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

from api.domain.errors import FieldProblem, InvalidInput

MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
MAX_SPANS_PER_DAY = 8
MAX_HOLIDAYS = 366
NEVER_OPENS = "never"
_TIME = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


WEEK: tuple[Weekday, ...] = tuple(Weekday)


class TimeSpan(BaseModel):
    """An opening span of one day, local wall-clock `HH:MM` (`end` may be `24:00`)."""

    model_config = ConfigDict(frozen=True)

    start: str = Field(examples=["09:00"])
    end: str = Field(examples=["17:00"])

    @property
    def start_minute(self) -> int:
        return _minutes(self.start)

    @property
    def length(self) -> int:
        """Minutes the span lasts (an overnight span runs past midnight)."""
        length = _minutes(self.end) - self.start_minute
        return length if length > 0 else length + MINUTES_PER_DAY


class BusinessHours(BaseModel):
    model_config = ConfigDict(frozen=True)

    timezone: str = Field(examples=["Europe/Berlin"])
    days: dict[Weekday, list[TimeSpan]] = Field(default_factory=dict)
    holidays: list[date] = Field(default_factory=list)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class InvalidTimezone(InvalidInput):
    """`business_hours.timezone` is not an IANA time zone this server knows."""

    code = "invalid_timezone"
    title = "Invalid time zone"


class InvalidTimeSpan(InvalidInput):
    """A span's time is not `HH:MM`, or it ends when it starts."""

    code = "invalid_time_span"
    title = "Invalid time span"


class OverlappingTimeSpans(InvalidInput):
    """Two opening spans overlap (overnight spill included)."""

    code = "overlapping_time_spans"
    title = "Overlapping time spans"


def check_business_hours(hours: BusinessHours, field: str = "business_hours") -> None:
    """Raises `InvalidTimezone`, `InvalidTimeSpan` or `OverlappingTimeSpans` (in that
    order), each naming every offending field."""
    try:
        ZoneInfo(hours.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidTimezone(
            f"'{hours.timezone}' is not a known IANA time zone.",
            [FieldProblem(("body", field, "timezone"), "unknown time zone")],
        ) from None
    bad: list[FieldProblem] = []
    for day, spans in hours.days.items():
        if len(spans) > MAX_SPANS_PER_DAY:
            bad.append(FieldProblem(("body", field, "days", day.value), "too many spans"))
        for i, span in enumerate(spans):
            loc = ("body", field, "days", day.value, i)
            if not (_TIME.match(span.start) and _TIME.match(span.end)) or span.start == "24:00":
                bad.append(FieldProblem(loc, "times must be HH:MM (00:00-23:59, end 24:00)"))
            elif _minutes(span.end) == _minutes(span.start):
                bad.append(FieldProblem(loc, "end must differ from start"))
    if len(hours.holidays) > MAX_HOLIDAYS:
        bad.append(FieldProblem(("body", field, "holidays"), f"at most {MAX_HOLIDAYS}"))
    if bad:
        raise InvalidTimeSpan("Opening spans must be HH:MM and not empty.", bad)
    overlaps = _overlaps(hours)
    if overlaps:
        raise OverlappingTimeSpans(
            "Opening spans must not overlap: " + ", ".join(overlaps) + ".",
            [FieldProblem(("body", field, "days", o.split()[0]), o) for o in overlaps],
        )


def _overlaps(hours: BusinessHours) -> list[str]:
    """Each overlap as `"mon 09:00-17:00 overlaps mon 16:00-18:00"`, on a circular week."""
    pieces: list[tuple[int, int, int, str]] = []  # start, end, span number, label
    every = [(day, span) for day, spans in hours.days.items() for span in spans]
    for number, (day, span) in enumerate(every):
        start = WEEK.index(day) * MINUTES_PER_DAY + span.start_minute
        end = start + span.length
        label = f"{day.value} {span.start}-{span.end}"
        pieces.append((start, min(end, MINUTES_PER_WEEK), number, label))
        if end > MINUTES_PER_WEEK:  # Sunday night into Monday
            pieces.append((0, end - MINUTES_PER_WEEK, number, label))
    pieces.sort()
    found: list[str] = []
    reach: tuple[int, int, str] | None = None  # the furthest end so far, its span
    for start, end, number, label in pieces:
        if reach is not None and start < reach[0] and number != reach[1]:
            found.append(f"{reach[2]} overlaps {label}")
        if reach is None or end > reach[0]:
            reach = (end, number, label)
    return found


def is_open(hours: BusinessHours | None, at: datetime) -> bool:
    """Whether the inbox is open at the instant `at` (aware)."""
    if hours is None:
        return True
    local = at.astimezone(hours.zone)
    minute = local.hour * 60 + local.minute
    today = local.date()
    for day, offset in ((today, 0), (today - timedelta(days=1), MINUTES_PER_DAY)):
        if day in hours.holidays:
            continue
        for span in hours.days.get(WEEK[day.weekday()], []):
            if span.start_minute <= minute + offset < span.start_minute + span.length:
                return True
    return False


def next_opening(hours: BusinessHours, at: datetime) -> datetime | None:
    """The first opening instant (UTC) after `at`, or None when the hours never open (no
    span on any day that is not a holiday). Bounded: each day with spans that does not
    open is a holiday (or `at`'s own day, past its spans)."""
    zone, holidays = hours.zone, set(hours.holidays)
    day = at.astimezone(zone).date()
    chances = len(holidays) + 2
    while chances > 0:
        starts = sorted(s.start_minute for s in hours.days.get(WEEK[day.weekday()], []))
        if starts:
            chances -= 1
            for minute in starts if day not in holidays else []:
                opening = _instant(day, minute, zone)
                if opening > at:
                    return opening
        elif not any(hours.days.values()):
            return None
        day += timedelta(days=1)
    return None


def closed_period(hours: BusinessHours | None, at: datetime) -> str | None:
    """The name of the closed period `at` falls in (its next opening, ISO UTC, or
    `never`); None when the inbox is open at `at`."""
    if hours is None or is_open(hours, at):
        return None
    opening = next_opening(hours, at)
    return opening.isoformat() if opening is not None else NEVER_OPENS


def _instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time. One that does not exist (inside a
    spring-forward gap) is the first minute whose wall clock is at or past it: the jump."""
    wall = datetime.combine(day, time(minute // 60, minute % 60))
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    if _wall(instant, zone) == wall:
        return instant
    probe = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)  # before the gap
    while _wall(probe, zone) < wall:
        probe += timedelta(minutes=1)
    return probe


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


# How far ahead `after_open_minutes` looks for the open minutes it is asked for (ten years
# of local days): hours open a few minutes a week with a long target are answered None
# ("not due within ten years"), as hours that never open are.
_HORIZON_DAYS = 3660


def after_open_minutes(
    hours: BusinessHours | None, start: datetime, minutes: int
) -> datetime | None:
    """The instant (UTC) at which `minutes` open minutes have passed since `start` (aware),
    counting only the time the hours are open (an SLA timer paused at night, on weekends and
    holidays). None hours are always open (`start + minutes`); zero minutes is `start`.
    Open minutes are real elapsed minutes inside the opening spans, so a span across a
    daylight-saving change is as long as the clock on the wall says it lasted (an hour less
    in spring, one more in autumn). None when the hours never open (or not within ten
    years)."""
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    start = start.astimezone(UTC)
    if hours is None:
        return start + timedelta(minutes=minutes)
    if minutes == 0:
        return start
    left = timedelta(minutes=minutes)
    for opens, closes in _open_spans(hours, start):
        opens = max(opens, start)
        if closes <= opens:
            continue
        if closes - opens >= left:
            return opens + left
        left -= closes - opens
    return None


def open_minutes_between(hours: BusinessHours | None, start: datetime, end: datetime) -> int:
    """How many open minutes (rounded down) pass from `start` to `end` (0 when `end` is not
    after `start`); None hours are always open."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return 0
    if hours is None:
        return int((end - start).total_seconds() // 60)
    total = timedelta()
    for opens, closes in _open_spans(hours, start):
        if opens >= end:
            break
        opens, closes = max(opens, start), min(closes, end)
        if closes > opens:
            total += closes - opens
    return int(total.total_seconds() // 60)


def _open_spans(hours: BusinessHours, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The opening spans (UTC instants, in order, never overlapping) from the local day
    before `start`'s (its overnight span may still run) for `_HORIZON_DAYS` days."""
    if not any(hours.days.values()):
        return
    zone, holidays = hours.zone, set(hours.holidays)
    day = start.astimezone(zone).date() - timedelta(days=1)
    for _ in range(_HORIZON_DAYS):
        if day not in holidays:
            spans = sorted(hours.days.get(WEEK[day.weekday()], []), key=lambda s: s.start_minute)
            for span in spans:
                end = span.start_minute + span.length
                opens = _instant(day, span.start_minute, zone)
                closes = _instant(day + timedelta(days=end // MINUTES_PER_DAY),
                                  end % MINUTES_PER_DAY, zone)  # fmt: skip
                yield opens, closes
        day += timedelta(days=1)
