"""The inbox's business hours: the shared value object of `api.domain.business_hours`
(the AI assistants have business hours too), named here for the messaging context."""

from __future__ import annotations

from api.domain.business_hours import MAX_HOLIDAYS as MAX_HOLIDAYS
from api.domain.business_hours import MAX_SPANS_PER_DAY as MAX_SPANS_PER_DAY
from api.domain.business_hours import MINUTES_PER_DAY as MINUTES_PER_DAY
from api.domain.business_hours import MINUTES_PER_WEEK as MINUTES_PER_WEEK
from api.domain.business_hours import NEVER_OPENS as NEVER_OPENS
from api.domain.business_hours import WEEK as WEEK
from api.domain.business_hours import BusinessHours as BusinessHours
from api.domain.business_hours import InvalidTimeSpan as InvalidTimeSpan
from api.domain.business_hours import InvalidTimezone as InvalidTimezone
from api.domain.business_hours import OverlappingTimeSpans as OverlappingTimeSpans
from api.domain.business_hours import TimeSpan as TimeSpan
from api.domain.business_hours import Weekday as Weekday
from api.domain.business_hours import check_business_hours as check_business_hours
from api.domain.business_hours import closed_period as closed_period
from api.domain.business_hours import is_open as is_open
from api.domain.business_hours import next_opening as next_opening
