"""The dashboard's window rules without servers: defaults, datetimes without an offset
read in the tenant's zone, local days across a daylight saving change, the limits; and
the use case's cache rule, with fakes of its ports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from api.domain.analytics.dashboard import (
    AgentLoad,
    CampaignPerformance,
    ConversationFigures,
    CrmFigures,
    Dashboard,
    InvalidWindow,
    MessageCount,
    Window,
    WindowTooLong,
)
from api.domain.departments import department_scope
from api.domain.errors import Forbidden
from api.domain.identity.auth import Principal
from api.usecases.analytics.get_dashboard import (
    AnalyticsPolicy,
    GetDashboard,
    local_days,
    resolve_window,
)
from tests.fakes.clock import FakeUtcClock

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)  # the day after Berlin's spring change


def test_defaults_cover_30_local_days_up_to_now() -> None:
    window = resolve_window(None, None, now=NOW, zone=BERLIN)
    assert window.since == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)  # 03-01 00:00 CET
    assert window.until == NOW and window.timezone == "Europe/Berlin"
    days = local_days(window)
    assert len(days) == 30 and (days[0], days[-1]) == ("2026-03-01", "2026-03-30")


def test_a_datetime_without_offset_is_local_and_one_with_offset_is_kept() -> None:
    window = resolve_window(
        datetime.fromisoformat("2026-03-29T00:00"),
        datetime(2026, 3, 30, 0, 0, tzinfo=UTC),
        now=NOW,
        zone=BERLIN,
    )
    assert window.since == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # CET, before the change
    assert local_days(window) == ["2026-03-29", "2026-03-30"]  # 00:00 UTC is 02:00 CEST


def test_until_must_follow_since_and_the_window_is_bounded() -> None:
    with pytest.raises(InvalidWindow):
        resolve_window(NOW, NOW, now=NOW, zone=BERLIN)
    with pytest.raises(InvalidWindow):
        resolve_window(NOW + timedelta(hours=1), None, now=NOW, zone=BERLIN)
    with pytest.raises(WindowTooLong):
        resolve_window(NOW - timedelta(days=366, seconds=1), NOW, now=NOW, zone=BERLIN)
    assert resolve_window(NOW - timedelta(days=366), NOW, now=NOW, zone=BERLIN).until == NOW
    naive_first_instant = datetime.fromisoformat("0001-01-01T00:00")  # overflows in Berlin
    for far in (naive_first_instant, datetime.max.replace(tzinfo=UTC),
                datetime(1969, 12, 31, tzinfo=UTC)):  # fmt: skip
        with pytest.raises(InvalidWindow):
            resolve_window(far, None, now=NOW, zone=BERLIN)


class CountingFigures:
    def __init__(self) -> None:
        self.calls = 0

    async def messages(self, window: Window) -> list[MessageCount]:
        self.calls += 1
        return [MessageCount(day="2026-03-30", direction="inbound", status="received", count=1)]

    async def conversations(self, window: Window) -> ConversationFigures:
        return ConversationFigures()

    async def agents(self, window: Window) -> list[AgentLoad]:
        return []


class NoCampaigns:
    async def performance(self, since: datetime, until: datetime) -> list[CampaignPerformance]:
        return []


class Zone:
    async def name(self) -> str:
        return "Not/AZone"  # unreadable: UTC


class MemoryCache:
    def __init__(self) -> None:
        self.entries: dict[str, tuple[Dashboard, int]] = {}

    async def get(self, key: str) -> Dashboard | None:
        found = self.entries.get(key)
        return found[0] if found else None

    async def put(self, key: str, dashboard: Dashboard, seconds: int) -> None:
        self.entries[key] = (dashboard, seconds)


def principal(*permissions: str) -> Principal:
    return Principal(
        user_id="u1", tenant_id="t" * 24, session_id="s", token_id="j",
        permissions=frozenset(permissions), issued_at=NOW, expires_at=NOW + timedelta(minutes=15),
    )  # fmt: skip


class NoCrm:
    async def figures(self, window: Window) -> CrmFigures:
        return CrmFigures()


@pytest.mark.parametrize("seconds", [60, 0])
async def test_answers_are_cached_for_the_set_seconds_or_not_at_all(seconds: int) -> None:
    figures, cache = CountingFigures(), MemoryCache()
    use_case = GetDashboard(
        figures, NoCampaigns(), NoCrm(), Zone(), cache, FakeUtcClock(NOW), AnalyticsPolicy(seconds)
    )
    reader = principal("analytics:read")
    first = await use_case.execute(reader, since=None, until=None)
    second = await use_case.execute(reader, since=None, until=None)
    assert first.dashboard.window.timezone == "UTC"
    assert (first.cached, second.cached) == (False, seconds > 0)
    assert figures.calls == (1 if seconds else 2)
    assert [s for _, s in cache.entries.values()] == ([seconds] if seconds else [])
    with pytest.raises(Forbidden):
        await use_case.execute(principal("inbox:read"), since=None, until=None)


async def test_a_department_limited_reader_never_gets_another_scopes_cached_answer() -> None:
    figures, cache = CountingFigures(), MemoryCache()
    use_case = GetDashboard(
        figures, NoCampaigns(), NoCrm(), Zone(), cache, FakeUtcClock(NOW), AnalyticsPolicy(60)
    )
    reader = principal("analytics:read")
    assert not (await use_case.execute(reader, since=None, until=None)).cached
    with department_scope(["sales"]):
        assert not (await use_case.execute(reader, since=None, until=None)).cached
        assert (await use_case.execute(reader, since=None, until=None)).cached
    with department_scope(["support"]):
        assert not (await use_case.execute(reader, since=None, until=None)).cached
    assert (await use_case.execute(reader, since=None, until=None)).cached
    assert figures.calls == 3
