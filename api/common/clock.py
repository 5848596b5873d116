"""Time, always timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class SystemClock:
    """The `Clock` of production: the machine's time."""

    def now(self) -> datetime:
        return utcnow()
