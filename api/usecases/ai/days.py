"""UTC days: the unit of the token ledger and of the daily quota."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from api.common.clock import utcnow


def utc_day(at: datetime | None = None) -> str:
    return (at or utcnow()).astimezone(UTC).date().isoformat()


def seconds_to_next_day(at: datetime | None = None) -> int:
    now = (at or utcnow()).astimezone(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return max(1, math.ceil((midnight - now).total_seconds()))
