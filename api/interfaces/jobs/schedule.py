"""Periodic jobs, defined in code. A feature adds one with `periodic(...)` at import time.

beat sends them (one beat at a time: the one holding its Redis lock, see `celery_app`;
more beats stand by); workers run them like any other job, in the platform plane (no
tenant) unless the task itself iterates tenants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict

from api.config import Settings
from api.interfaces.jobs.tasks.operations import HEARTBEAT_JOB
from api.usecases.assistants.follow_up import FOLLOW_UP_JOB
from api.usecases.crm.lead_imports import SWEEP_LEAD_IMPORTS_JOB
from api.usecases.crm.meeting_reminders import SEND_MEETING_REMINDERS_JOB
from api.usecases.crm.ticket_sla import TICKET_SLA_JOB
from api.usecases.crm.transcripts import SWEEP_TRANSCRIPTS_JOB
from api.usecases.email.sweep_emails import SWEEP_EMAILS_JOB
from api.usecases.messaging.campaign_rules import DISPATCH_DUE_JOB, SWEEP_CAMPAIGNS_JOB
from api.usecases.messaging.contact_imports import SWEEP_IMPORTS_JOB
from api.usecases.messaging.conversation_status import WAKE_JOB
from api.usecases.messaging.export_contacts import SWEEP_EXPORTS_JOB
from api.usecases.messaging.sending_rules import SWEEP_OUTBOUND_JOB
from api.usecases.messaging.webhook_rules import SWEEP_WEBHOOKS_JOB


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    every_seconds: Callable[[Settings], float]  # from the settings, so intervals are configurable


class ScheduleOptions(TypedDict):
    expires: float


class ScheduleEntry(TypedDict):
    """One entry of Celery's `beat_schedule` mapping."""

    task: str
    schedule: float
    options: ScheduleOptions


_PERIODIC: list[Periodic] = []


def periodic(name: str, task: str, every_seconds: Callable[[Settings], float]) -> None:
    if any(p.name == name for p in _PERIODIC):
        raise ValueError(f"periodic job {name!r} is declared twice")
    _PERIODIC.append(Periodic(name, task, every_seconds))


def beat_schedule(settings: Settings) -> dict[str, ScheduleEntry]:
    """The `beat_schedule` mapping Celery expects."""
    return {
        p.name: {
            "task": p.task,
            "schedule": p.every_seconds(settings),
            # A beat that piles up while workers are down should not flood them later.
            "options": {"expires": p.every_seconds(settings)},
        }
        for p in _PERIODIC
    }


periodic("heartbeat", HEARTBEAT_JOB, lambda s: s.jobs.heartbeat_interval_seconds)
periodic("webhook-sweep", SWEEP_WEBHOOKS_JOB, lambda s: s.webhook_sweep_interval_seconds)
periodic("outbound-sweep", SWEEP_OUTBOUND_JOB, lambda s: s.send_sweep_interval_seconds)
periodic("email-sweep", SWEEP_EMAILS_JOB, lambda s: s.mail.sweep_interval_seconds)
periodic("snooze-wake", WAKE_JOB, lambda s: s.snooze_wake_interval_seconds)
periodic("campaign-dispatch", DISPATCH_DUE_JOB, lambda s: s.campaigns.dispatch_interval_seconds)
periodic("contact-import-sweep", SWEEP_IMPORTS_JOB, lambda s: s.imports.sweep_interval_seconds)
periodic(
    "contact-export-sweep", SWEEP_EXPORTS_JOB, lambda s: s.contact_export_sweep_interval_seconds
)
periodic("assistant-follow-up", FOLLOW_UP_JOB, lambda s: s.assistants.follow_up_every_seconds)
periodic("campaign-sweep", SWEEP_CAMPAIGNS_JOB, lambda s: s.campaign_sending.sweep_interval_seconds)
periodic(
    "meeting-reminders", SEND_MEETING_REMINDERS_JOB, lambda s: s.meetings.reminder_interval_seconds
)
periodic("lead-import-sweep", SWEEP_LEAD_IMPORTS_JOB, lambda s: s.imports.sweep_interval_seconds)
periodic("ticket-sla", TICKET_SLA_JOB, lambda s: s.ticket_sla_interval_seconds)
periodic("transcript-sweep", SWEEP_TRANSCRIPTS_JOB, lambda s: s.transcript_sweep_interval_seconds)
