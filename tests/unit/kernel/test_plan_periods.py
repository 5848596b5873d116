"""The plan counters' periods: UTC calendar months and days, whatever the offset given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from api.domain.plans import LimitName
from api.usecases.kernel.plan_gate import period_of


def test_a_month_runs_from_its_first_day_to_the_next_months_in_utc() -> None:
    period = period_of(LimitName.MESSAGES_PER_MONTH, datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    assert period.name == "2026-12"
    assert (period.start, period.end) == (
        datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    # 00:30 on the 1st in UTC+2 is still the last day of the month before in UTC.
    east = datetime(2027, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert period_of(LimitName.MESSAGES_PER_MONTH, east).name == "2026-12"


def test_a_day_and_what_is_held_now() -> None:
    day = period_of(LimitName.AI_TOKENS_PER_DAY, datetime(2026, 2, 28, 12, tzinfo=UTC))
    assert (day.name, day.end) == ("2026-02-28", datetime(2026, 3, 1, tzinfo=UTC))
    now = period_of(LimitName.STORAGE_BYTES, datetime(2026, 2, 28, tzinfo=UTC))
    assert (now.name, now.start, now.end) == ("", None, None)
