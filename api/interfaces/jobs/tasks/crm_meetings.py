"""CRM meeting tasks: send the meeting reminders that are due, in every tenant."""

from __future__ import annotations

import punq

from api.interfaces.jobs.base import parley_task
from api.usecases.crm.meeting_reminders import (
    SEND_MEETING_REMINDERS_JOB,
    SendDueMeetingReminders,
)


@parley_task(SEND_MEETING_REMINDERS_JOB)
async def send_meeting_reminders(container: punq.Container) -> int:
    """Periodic (beat): the due reminders, each claimed once (see `SendDueMeetingReminders`)."""
    return await container.resolve(SendDueMeetingReminders).execute()
