"""Meeting reminders: the periodic job sends the due ones, in every tenant.

Each reminder row (meeting, offset, schedule version) is claimed atomically before it is
sent (a conditional update: of two beats or workers, one wins), with a lease: a sender
that crashes leaves it claimed until the lease runs out, then it is taken again. What a
claim sends:
- nothing, when the meeting is gone, no longer upcoming (cancelled, completed, no-show)
  or was rescheduled since (another schedule version): the row is cancelled;
- nothing, when the meeting has already started (the beat was down): the row is skipped;
- an email (`meeting_reminder`) to the contact's address when known and to the owner;
- the meeting's WhatsApp template (`reminder_template`), when it has one and the contact
  a phone, through the messaging outbound path with the key `meeting-reminder:<row id>`
  (a retaken row does not queue it twice).
Each part is marked done as soon as it is queued, so a retaken row does not repeat it.
A refusal of one part (no address, the channel cannot send, an inactive template) is
noted on the row and does not stop the other. Returns how many reminders were sent.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from api.domain.clock import Clock
from api.domain.crm.meetings import (
    UPCOMING,
    ContactCard,
    Meeting,
    MeetingContacts,
    MeetingRepository,
    Reminder,
    ReminderMessenger,
    ReminderRepository,
    ReminderState,
    local_time,
)
from api.domain.email.messages import ContextValue, EmailTemplate
from api.domain.errors import Conflict, InvalidInput, NotFound
from api.domain.identity.users import UserRepository
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.crm.meeting_rules import MeetingRules
from api.usecases.kernel.mailer import QueueEmail

log = logging.getLogger(__name__)
SEND_MEETING_REMINDERS_JOB = "parley.crm.meeting_reminders"


class ReminderPolicy:
    def __init__(self, *, batch: int = 200, lease_seconds: float = 600) -> None:
        self.batch = batch
        self.lease = timedelta(seconds=lease_seconds)


def _when(meeting: Meeting, zone: str) -> str:
    local = local_time(meeting.starts_at, zone)
    return f"{local.strftime('%A %d %B %Y, %H:%M')} ({zone})"


class SendDueMeetingReminders:
    def __init__(
        self,
        reminders: ReminderRepository,
        meetings: MeetingRepository,
        contacts: MeetingContacts,
        users: UserRepository,
        mail: QueueEmail,
        messenger: ReminderMessenger,
        rules: MeetingRules,
        clock: Clock,
        policy: ReminderPolicy,
    ) -> None:
        self._reminders = reminders
        self._meetings = meetings
        self._contacts = contacts
        self._users = users
        self._mail = mail
        self._messenger = messenger
        self._rules = rules
        self._clock = clock
        self._policy = policy

    async def execute(self) -> int:
        now = self._clock.now()
        sent = 0
        for reminder in await self._reminders.due(now, self._policy.batch):
            with tenant_context(TenantId(reminder.tenant_id)):
                if not await self._reminders.claim(reminder, now, now + self._policy.lease):
                    continue  # another run has it
                try:
                    sent += await self._one(reminder, now)
                except Exception:  # one reminder's failure does not stop the others
                    log.exception("meeting reminder %s failed", reminder.id)
        return sent

    async def _one(self, reminder: Reminder, now: datetime) -> int:
        assert reminder.id is not None  # noqa: S101 - stored
        meeting = await self._meetings.get_for_job(reminder.meeting_id)
        if (
            meeting is None
            or meeting.status not in UPCOMING
            or meeting.schedule_version != reminder.version
        ):
            await self._reminders.mark(reminder.id, {"state": ReminderState.CANCELLED.value})
            return 0
        if meeting.starts_at <= now:
            await self._reminders.mark(
                reminder.id, {"state": ReminderState.SKIPPED.value, "note": "started"}
            )
            return 0
        contact = await self._contacts.get(meeting.contact_id)
        zone = await self._rules.zone(meeting)
        notes: list[str] = []
        if not reminder.email_done:
            notes += await self._emails(meeting, contact, zone, reminder.offset_minutes)
            await self._reminders.mark(reminder.id, {"email_done": True})
        if not reminder.whatsapp_done:
            notes += await self._whatsapp(meeting, contact, zone, reminder.id)
            await self._reminders.mark(reminder.id, {"whatsapp_done": True})
        await self._reminders.mark(reminder.id, {
            "state": ReminderState.SENT.value, "sent_at": now,
            "note": "; ".join(notes) or None,
        })  # fmt: skip
        return 1

    async def _emails(
        self, meeting: Meeting, contact: ContactCard | None, zone: str, offset: int
    ) -> list[str]:
        owner = await self._users.get(meeting.owner_id)
        owner_name = owner.full_name if owner is not None else ""
        contact_name = (contact.name if contact is not None else None) or ""
        recipients: list[tuple[str, str, str]] = []  # address, their name, the other's
        if contact is not None and contact.email:
            recipients.append((contact.email, contact_name, owner_name))
        if owner is not None and owner.is_active:
            recipients.append((owner.email, owner_name, contact_name))
        notes = []
        for address, name, other in recipients:
            context: dict[str, ContextValue] = {
                "meeting_title": meeting.title, "starts_at_local": _when(meeting, zone),
                "location": meeting.location or "", "with_name": other,
                "minutes_before": offset, "recipient_name": name,
            }  # fmt: skip
            try:
                await self._mail.execute(address, EmailTemplate.MEETING_REMINDER, context)
            except InvalidInput:
                notes.append("an email address was refused")
        return notes

    async def _whatsapp(
        self, meeting: Meeting, contact: ContactCard | None, zone: str, reminder_id: str
    ) -> list[str]:
        template = meeting.reminder_template
        if template is None or contact is None:
            return []
        values = {
            "contact_name": contact.name or "", "title": meeting.title,
            "starts_at_local": _when(meeting, zone), "location": meeting.location or "",
            "owner_name": "",
        }  # fmt: skip
        if "owner_name" in template.body_parameters:
            owner = await self._users.get(meeting.owner_id)
            values["owner_name"] = owner.full_name if owner else ""
        try:
            queued = await self._messenger.send_template(
                contact.id, template, [values[name] for name in template.body_parameters],
                owner_id=meeting.owner_id, idempotency_key=f"meeting-reminder:{reminder_id}",
            )  # fmt: skip
        except (Conflict, InvalidInput, NotFound) as exc:
            log.warning("meeting %s: the WhatsApp reminder was refused (%s)", meeting.id,
                        type(exc).__name__)  # fmt: skip
            return [f"whatsapp refused: {exc.code}"]
        return [] if queued else ["whatsapp: no phone or channel"]
