"""A clock that stands still until a test moves it."""

from __future__ import annotations


class FakeClock:
    """Seconds since the epoch, as `time.time` answers them; set `now` to move on."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
