"""Transactional email: queue a message now, deliver it from a worker with retries."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pydantic import EmailStr, TypeAdapter, ValidationError

from api.common.clock import utcnow
from api.domain.email.messages import (
    ContextValue,
    EmailStatus,
    EmailTemplate,
    OutboundEmail,
    OutboundEmailRepository,
)
from api.domain.errors import (
    FieldProblem,
    InvalidInput,
    ServiceUnavailable,
)
from api.domain.jobs import JobQueue

SEND_EMAIL_JOB = "parley.email.send"
log = logging.getLogger(__name__)
_ADDRESS: TypeAdapter[str] = TypeAdapter(EmailStr)


def normalize_address(raw: str, field: str = "to") -> str:
    """A valid address, lower-cased (`InvalidInput` on `field` otherwise)."""
    try:
        return _ADDRESS.validate_python(raw.strip()).lower()
    except ValidationError:
        raise InvalidInput(
            "Invalid email address.", [FieldProblem((field,), "not a valid email address")]
        ) from None


class QueueEmail:
    """Record a message for the current tenant, then queue its delivery.

    Rules: the recipient is a valid address; the template exists; the record is stored
    before the job is queued (a job never points at nothing); the job carries the email's
    id and the tenant id only; when the queue is down the record is marked failed (not
    left waiting forever) and `ServiceUnavailable` reaches the caller.
    """

    def __init__(self, outbox: OutboundEmailRepository, jobs: JobQueue) -> None:
        self._outbox = outbox
        self._jobs = jobs

    async def execute(
        self, to: str, template: EmailTemplate, context: Mapping[str, ContextValue]
    ) -> OutboundEmail:
        email = OutboundEmail(
            to=normalize_address(to),
            template=template,
            context=dict(context),
            created_at=utcnow(),
        )
        stored = await self._outbox.add(email)
        assert stored.id is not None  # noqa: S101 - repositories return stored ids
        try:
            await self._jobs.enqueue(SEND_EMAIL_JOB, email_id=stored.id)
        except ServiceUnavailable:
            error = "the job queue was unavailable"
            await self._outbox.record_attempt(stored.id, error, EmailStatus.FAILED)
            raise
        return stored


class Mailer:
    """Queue a transactional email; an outage or an unusable stored address is logged, not
    raised, so a flow's answer never depends on (or reveals) whether mail went out."""

    def __init__(self, queue: QueueEmail) -> None:
        self._queue = queue

    async def send(
        self, to: str, template: EmailTemplate, context: Mapping[str, ContextValue]
    ) -> bool:
        try:
            await self._queue.execute(to, template, context)
        except (ServiceUnavailable, InvalidInput) as exc:
            log.warning("could not queue the %s email: %s", template.value, type(exc).__name__)
            return False
        return True
