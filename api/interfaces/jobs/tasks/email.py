"""Email tasks: deliver one queued email."""

from __future__ import annotations

import punq

from api.interfaces.jobs.base import is_last_attempt, parley_task
from api.usecases.email.deliver_email import DeliverEmail
from api.usecases.kernel.mailer import SEND_EMAIL_JOB


@parley_task(SEND_EMAIL_JOB)
async def send_email(container: punq.Container, email_id: str) -> str:
    """Deliver one queued email (see `DeliverEmail`)."""
    deliver = container.resolve(DeliverEmail)
    status = await deliver.execute(email_id, last_attempt=is_last_attempt())
    return status.value
