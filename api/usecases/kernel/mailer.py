"""Transactional email: queue a message now, deliver it from a worker with retries."""

from __future__ import annotations

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
_ADDRESS: TypeAdapter[str] = TypeAdapter(EmailStr)


def normalize_address(raw: str) -> str:
    try:
        return _ADDRESS.validate_python(raw.strip()).lower()
    except ValidationError:
        raise InvalidInput(
            "Invalid email address.", [FieldProblem(("to",), "not a valid email address")]
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
