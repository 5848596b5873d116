"""Transactional email: queue a message now, deliver it from a worker with retries."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import EmailStr, TypeAdapter, ValidationError

from api.common.clock import utcnow
from api.domain.email.messages import (
    Branding,
    ContextValue,
    EmailMessage,
    EmailRenderer,
    EmailSender,
    EmailStatus,
    EmailTemplate,
    OutboundEmail,
    OutboundEmailRepository,
)
from api.domain.errors import (
    FieldProblem,
    InvalidInput,
    NotFound,
    PermanentFailure,
    ServiceUnavailable,
    TemporaryFailure,
)
from api.domain.jobs import JobQueue
from api.domain.tenancy import current_tenant
from api.domain.tenants.tenant import TenantRepository

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


class DeliverEmail:
    """Render and send one queued message (run by the worker, in the email's tenant).

    Rules: a message already sent is not sent again (redelivery is harmless); every
    attempt is counted; a permanent refusal marks it failed at once; a temporary one is
    raised for the job to retry, and marks it failed only on the last attempt. The
    tenant's branding (its name) dresses every message.
    """

    def __init__(
        self,
        outbox: OutboundEmailRepository,
        tenants: TenantRepository,
        renderer: EmailRenderer,
        sender: EmailSender,
    ) -> None:
        self._outbox = outbox
        self._tenants = tenants
        self._renderer = renderer
        self._sender = sender

    async def execute(self, email_id: str, *, last_attempt: bool = False) -> EmailStatus:
        email = await self._outbox.get(email_id)
        if email is None:
            raise NotFound("No such email in this tenant.")
        if email.status is not EmailStatus.QUEUED:
            return email.status
        tenant = await self._tenants.get(current_tenant())
        if tenant is None:
            raise NotFound("The email's tenant no longer exists.")
        try:
            rendered = self._renderer.render(
                email.template, email.context, Branding(tenant_name=tenant.name)
            )
            await self._sender.send(
                EmailMessage(
                    to=[email.to],
                    subject=rendered.subject,
                    html=rendered.html,
                    text=rendered.text,
                    message_id=f"{email_id}.{tenant.id}",
                )
            )
        except TemporaryFailure as exc:
            final = EmailStatus.FAILED if last_attempt else None
            await self._outbox.record_attempt(email_id, str(exc), final)
            raise
        except PermanentFailure as exc:
            await self._outbox.record_attempt(email_id, str(exc), EmailStatus.FAILED)
            raise
        await self._outbox.record_attempt(email_id, None, EmailStatus.SENT)
        return EmailStatus.SENT
