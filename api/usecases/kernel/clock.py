"""Time as the database keeps it."""

from __future__ import annotations

from datetime import datetime

from api.common.clock import utcnow


def stored_now() -> datetime:
    """Now, to the millisecond: what the database keeps, so a created resource reads back
    exactly as it was answered."""
    return stored_time(utcnow())


def stored_time(at: datetime) -> datetime:
    """`at` to the millisecond, as the database keeps it."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)
