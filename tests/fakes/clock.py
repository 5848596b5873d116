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
    """A `Clock` (api.domain.clock, aware UTC): `at` is now (a Monday, 10:00 UTC, unless
    given); set it or `advance` it to move on."""

    def __init__(self, at: datetime = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)
