"""The clock port: what time it is, so that rules about time (the customer service window,
rate buckets) can be tested with a clock the test moves instead of sleeps."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...
