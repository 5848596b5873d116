"""Time as the database keeps it."""

from __future__ import annotations

from datetime import datetime

from api.common.clock import utcnow


def stored_now() -> datetime:
    """Now, to the millisecond: what the database keeps, so a created resource reads back
    exactly as it was answered."""
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
