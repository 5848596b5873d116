"""When a campaign runs: its schedule checked, and its next run computed.

- `now`: runs when started (`POST /{id}/start`); it cannot be scheduled.
- `at`: once, at a time still to come when the campaign is saved or scheduled.
- `recurring`: a five-field cron expression (`croniter`; `@daily` and the like too) read
  in `timezone` (an IANA name; the company profile's time zone by default), so `0 9 * * 1`
  in America/Sao_Paulo is 09:00 in São Paulo every Monday, across any daylight-saving
  change. Two runs are at least `MIN_INTERVAL` apart (checked over the next
  `INTERVAL_CHECKS` firings), else the schedule is refused (422 `invalid_schedule`).

The time a run is for (its *window*) is the scheduled instant in UTC, to the millisecond
(what the database keeps), so every dispatcher computes the same window.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from api.common.locales import is_timezone
from api.domain.messaging.campaigns import InvalidSchedule, Schedule, ScheduleType
from api.usecases.kernel.clock import stored_time

MIN_INTERVAL = timedelta(hours=1)
INTERVAL_CHECKS = 60
MAX_CRON_LENGTH = 120
_LOC = ("body", "schedule")


def _invalid(detail: str, field: str, msg: str) -> InvalidSchedule:
    return InvalidSchedule(detail, (*_LOC, field), msg)


def _firings(cron: str, zone: ZoneInfo, after: datetime) -> croniter:
    return croniter(cron, after.astimezone(zone))


def _next_firing(iterator: croniter) -> datetime:
    found: datetime = iterator.get_next(datetime)
    return stored_time(found.astimezone(UTC))


def checked_schedule(given: Schedule, default_timezone: str, now: datetime) -> Schedule:
    """`given` with its time zone filled in (the tenant's by default) and `at` in UTC, or
    `InvalidSchedule` (422) when it cannot run: `at` missing or past, a cron missing,
    unreadable or firing more often than `MIN_INTERVAL`, an unknown time zone."""
    timezone = given.timezone or default_timezone
    if not is_timezone(timezone):
        raise _invalid("The time zone is not an IANA name.", "timezone", "unknown time zone")
    if given.type is ScheduleType.NOW:
        return Schedule(type=ScheduleType.NOW, timezone=timezone)
    if given.type is ScheduleType.AT:
        if given.at is None:
            raise _invalid("An `at` schedule needs `at`.", "at", "required")
        at = given.at  # without an offset: a wall time in the zone
        at = at.replace(tzinfo=ZoneInfo(timezone)) if at.tzinfo is None else at
        at = stored_time(at.astimezone(UTC))
        if at <= now:
            raise _invalid("The time to run is past.", "at", "must be in the future")
        return Schedule(type=ScheduleType.AT, at=at, timezone=timezone)
    cron = (given.cron or "").strip()
    if not cron:
        raise _invalid("A recurring schedule needs `cron`.", "cron", "required")
    if len(cron) > MAX_CRON_LENGTH or not croniter.is_valid(cron):
        raise _invalid("The cron expression cannot be read.", "cron", "not a cron expression")
    try:
        firings = _firings(cron, ZoneInfo(timezone), now)
        times = [_next_firing(firings) for _ in range(INTERVAL_CHECKS)]
    except (CroniterBadCronError, CroniterBadDateError) as exc:
        raise _invalid("The cron expression never fires.", "cron", "never fires") from exc
    if any(later - earlier < MIN_INTERVAL for earlier, later in pairwise(times)):
        raise _invalid(
            "A recurring campaign runs at most once an hour.", "cron", "fires more than hourly"
        )
    return Schedule(type=ScheduleType.RECURRING, cron=cron, timezone=timezone)


def next_run_at(schedule: Schedule | None, after: datetime) -> datetime | None:
    """The next time `schedule` fires strictly after `after` (UTC, to the millisecond);
    None for `now`, for an `at` already past, or without a schedule."""
    if schedule is None or schedule.type is ScheduleType.NOW:
        return None
    if schedule.type is ScheduleType.AT:
        return schedule.at if schedule.at is not None and schedule.at > after else None
    if not schedule.cron:
        return None
    zone = ZoneInfo(schedule.timezone or "UTC")
    try:
        return _next_firing(_firings(schedule.cron, zone, after))
    except (CroniterBadCronError, CroniterBadDateError):
        return None
