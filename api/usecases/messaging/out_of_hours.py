"""The out-of-hours auto-reply: whether an inbound message gets one, at most once per
conversation and closed period.

Outside the tenant's business hours (now, by the `Clock`, in the tenant's time zone,
holidays closed) and with an `out_of_hours_message` set, the first inbound message of a
conversation in a closed period claims the period's mark (atomic: concurrent messages
claim it once) and gets the reply; later ones in the same period get nothing. A period
runs from a closing time to the next opening and is named by that opening, so the next
night is a new period. Hours that never open have one period (`never`) whose mark lasts
`NEVER_OPENS_MARK_SECONDS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from api.domain.clock import Clock
from api.domain.messaging.business_hours import NEVER_OPENS, closed_period
from api.domain.messaging.conversations import Conversation
from api.domain.messaging.inbox_settings import InboxSettingsRepository
from api.domain.messaging.routing import OutOfHoursMarks
from api.usecases.messaging.inbox_settings import settings_or_defaults

NEVER_OPENS_MARK_SECONDS = 7 * 24 * 3600
MARK_GRACE_SECONDS = 24 * 3600  # kept past the opening: a late retry still finds it


@dataclass(frozen=True)
class OutOfHoursReply:
    """A reply to send: `text` in `conversation_id`, for the closed `period`."""

    conversation_id: str
    text: str
    period: str


class DecideOutOfHoursReply:
    def __init__(
        self, settings: InboxSettingsRepository, marks: OutOfHoursMarks, clock: Clock
    ) -> None:
        self._settings = settings
        self._marks = marks
        self._clock = clock

    async def execute(self, conversation: Conversation) -> OutOfHoursReply | None:
        """The reply this conversation is due now, its period's mark claimed; None when
        open, no message is set, or this period's reply was claimed already. A caller
        that cannot queue the reply calls `release` so a later message retries."""
        settings = await settings_or_defaults(self._settings)
        text = settings.out_of_hours_message
        if text is None or settings.business_hours is None or conversation.id is None:
            return None
        now = self._clock.now()
        period = closed_period(settings.business_hours, now)
        if period is None:
            return None
        if not await self._marks.claim(conversation.id, period, _mark_seconds(period, now)):
            return None
        return OutOfHoursReply(conversation_id=conversation.id, text=text, period=period)

    async def release(self, reply: OutOfHoursReply) -> None:
        await self._marks.release(reply.conversation_id, reply.period)


def _mark_seconds(period: str, now: datetime) -> int:
    if period == NEVER_OPENS:
        return NEVER_OPENS_MARK_SECONDS
    until_opening = (datetime.fromisoformat(period) - now).total_seconds()
    return int(max(until_opening, 0)) + MARK_GRACE_SECONDS
