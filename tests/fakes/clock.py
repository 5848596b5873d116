"""Clocks that stand still until a test moves them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """Seconds since the epoch, as `time.time` answers them; set `now` to move on."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeUtcClock:
    """A `Clock` (api.domain.clock): `at` is now; `advance` moves it on."""

    def __init__(self, at: datetime = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


class ManualClock:
    """A `Clock` (aware UTC datetimes) that stands still until the test moves it."""

    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime(2026, 5, 4, 10, 0, tzinfo=UTC)  # a Monday

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)
