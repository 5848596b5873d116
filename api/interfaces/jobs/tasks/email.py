"""Email tasks: deliver one queued email; sweep the ones whose job or run was lost."""

from __future__ import annotations

import punq

from api.interfaces.jobs.base import is_last_attempt, parley_task
from api.usecases.email.deliver_email import DeliverEmail
from api.usecases.email.sweep_emails import SWEEP_EMAILS_JOB, SweepOutboundEmails
from api.usecases.kernel.mailer import SEND_EMAIL_JOB


@parley_task(SEND_EMAIL_JOB)
async def send_email(container: punq.Container, email_id: str) -> str:
    """Deliver one queued email (see `DeliverEmail`)."""
    deliver = container.resolve(DeliverEmail)
    status = await deliver.execute(email_id, last_attempt=is_last_attempt())
    return status.value


@parley_task(SWEEP_EMAILS_JOB)
async def sweep_emails(container: punq.Container) -> int:
    """Periodic (beat): queue again the emails whose delivery job or run was lost, in every
    tenant (see `SweepOutboundEmails`)."""
    return await container.resolve(SweepOutboundEmails).execute()
