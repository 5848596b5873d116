"""Campaign schedules: checked at save time, the next run computed in the tenant's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.domain.messaging.campaigns import InvalidSchedule, Schedule, ScheduleType
from api.usecases.messaging.campaign_schedules import checked_schedule, next_run_at

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)  # a Monday; 07:00 in São Paulo (UTC-3)
SAO_PAULO = "America/Sao_Paulo"


def recurring(cron: str, timezone: str | None = None) -> Schedule:
    return Schedule(type=ScheduleType.RECURRING, cron=cron, timezone=timezone)


def test_a_daily_cron_fires_at_the_wall_time_of_the_tenants_zone() -> None:
    schedule = checked_schedule(recurring("0 9 * * *"), SAO_PAULO, NOW)
    assert schedule.timezone == SAO_PAULO
    first = next_run_at(schedule, NOW)
    assert first == datetime(2026, 5, 4, 12, 0, tzinfo=UTC)  # 09:00 in São Paulo
    assert next_run_at(schedule, first) == datetime(2026, 5, 5, 12, 0, tzinfo=UTC)
    # Asked at 13:00 UTC (10:00 there): today's run is past, tomorrow's is next.
    assert next_run_at(schedule, NOW + timedelta(hours=3)) == datetime(
        2026, 5, 5, 12, 0, tzinfo=UTC
    )


def test_the_schedules_own_zone_wins_over_the_tenants() -> None:
    schedule = checked_schedule(recurring("30 8 * * 1", "Asia/Tokyo"), SAO_PAULO, NOW)
    assert schedule.timezone == "Asia/Tokyo"
    # Monday 08:30 in Tokyo (UTC+9) is Sunday 23:30 UTC: the next is a week on.
    assert next_run_at(schedule, NOW) == datetime(2026, 5, 10, 23, 30, tzinfo=UTC)


def test_daylight_saving_keeps_the_wall_time() -> None:
    schedule = checked_schedule(recurring("0 9 * * *", "America/New_York"), "UTC", NOW)
    before = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)  # the day before the change
    assert next_run_at(schedule, before) == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)  # EDT
    assert next_run_at(schedule, datetime(2026, 3, 6, 15, 0, tzinfo=UTC)) == datetime(
        2026, 3, 7, 14, 0, tzinfo=UTC
    )  # EST


def test_an_at_schedule_is_kept_in_utc_and_must_be_to_come() -> None:
    later = NOW + timedelta(days=1, microseconds=123456)
    schedule = checked_schedule(Schedule(type=ScheduleType.AT, at=later), SAO_PAULO, NOW)
    assert schedule.at == later.replace(microsecond=123000)
    assert next_run_at(schedule, NOW) == schedule.at
    assert next_run_at(schedule, later) is None
    wall = checked_schedule(
        Schedule(type=ScheduleType.AT, at=datetime(2026, 5, 5, 9, 0)),  # noqa: DTZ001
        SAO_PAULO,
        NOW,
    )
    assert wall.at == datetime(2026, 5, 5, 12, 0, tzinfo=UTC)  # a wall time in the zone


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        (Schedule(type=ScheduleType.AT), "at"),
        (Schedule(type=ScheduleType.AT, at=NOW), "at"),
        (Schedule(type=ScheduleType.AT, at=NOW - timedelta(minutes=1)), "at"),
        (recurring(""), "cron"),
        (recurring("not a cron"), "cron"),
        (recurring("61 * * * *"), "cron"),
        (recurring("*/30 * * * *"), "cron"),  # every half hour: too often
        (recurring("0,30 9 * * *"), "cron"),  # twice within an hour once a day
        (recurring("0 9 * * *", "Mars/Olympus"), "timezone"),
    ],
)
def test_schedules_that_cannot_run_are_refused(schedule: Schedule, field: str) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        checked_schedule(schedule, SAO_PAULO, NOW)
    assert caught.value.code == "invalid_schedule"
    assert caught.value.problems[0].loc == ("body", "schedule", field)


def test_now_has_no_next_run_and_hourly_is_the_shortest_interval() -> None:
    assert next_run_at(checked_schedule(Schedule(type=ScheduleType.NOW), "UTC", NOW), NOW) is None
    assert next_run_at(None, NOW) is None
    hourly = checked_schedule(recurring("@hourly"), "UTC", NOW)
    assert next_run_at(hourly, NOW) == NOW + timedelta(hours=1)
