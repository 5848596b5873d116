"""Transactional email: templates rendered per tenant, sent through the job queue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, Field

from api.domain.tenancy import TenantId

# Context values are plain scalars (names, links, counts): no documents, no secrets
# beyond the single-use links the message itself must carry.
ContextValue = str | int | float | bool | None

# The platform's own mail (to platform admins, who belong to no tenant) goes through the
# same outbox, worker job and sweep as a tenant's, under this key in the tenant's place.
# Never a tenant's id (tenants have ObjectIds), so no request resolves to it and no
# tenant reads it; its mail is dressed as the product's, not a tenant's.
PLATFORM_MAIL = TenantId("platform")
PRODUCT_NAME = "Parley"


class EmailTemplate(StrEnum):
    WELCOME = "welcome"
    VERIFY_EMAIL = "verify_email"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a template name
    INVITATION = "invitation"
    CAMPAIGN_RESULTS = "campaign_results"
    CALLBACK_REQUESTED = "callback_requested"
    MEETING_REMINDER = "meeting_reminder"
    LEAD_ASSIGNED = "lead_assigned"
    TICKET_SLA_BREACHED = "ticket_sla_breached"
    SIGN_IN_CODE = "sign_in_code"
    TENANT_APPROVED = "tenant_approved"
    TENANT_REJECTED = "tenant_rejected"
    PLAN_LIMIT_WARNING = "plan_limit_warning"
    SECURITY_NOTICE = "security_notice"
    SIGNUP_AWAITING_REVIEW = "signup_awaiting_review"


class EmailStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class Branding(BaseModel):
    """How a tenant's mail looks: the hooks templates read."""

    product_name: str = PRODUCT_NAME
    tenant_name: str
    primary_color: str = "#2563eb"
    logo_url: str | None = None
    support_email: str | None = None
    footer: str | None = None

    @classmethod
    def platform(cls) -> Branding:
        """The platform's own mail: the product's name where a tenant's would be."""
        return cls(tenant_name=PRODUCT_NAME)


@dataclass(frozen=True)
class MailLinks:
    """Where links in mail lead: the API's public address (`PUBLIC_BASE_URL` + prefix)."""

    api_base_url: str = "http://127.0.0.1:8000/api/v1"

    def tenant_logo(self, tenant_id: str) -> str:
        return f"{self.api_base_url}/tenant-logos/{tenant_id}"


class RenderedEmail(BaseModel):
    subject: str
    html: str
    text: str


class EmailMessage(BaseModel):
    """One message ready for the wire."""

    to: list[str] = Field(min_length=1)
    subject: str
    html: str
    text: str
    message_id: str | None = None  # a stable Message-ID keeps redeliveries recognisable
    # The display name of `From` (the tenant's); the address is always the configured one.
    sender_name: str | None = None


class OutboundEmail(BaseModel):
    """A message a tenant asked to send, and what became of it."""

    id: str | None = None
    to: str
    template: EmailTemplate
    context: dict[str, ContextValue] = Field(default_factory=dict)
    status: EmailStatus = EmailStatus.QUEUED
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime
    sent_at: datetime | None = None


class EmailRenderer(Protocol):
    """Turns a template, its context and a tenant's branding into subject, HTML and text."""

    def render(
        self, template: EmailTemplate, context: Mapping[str, ContextValue], branding: Branding
    ) -> RenderedEmail: ...


class EmailSender(Protocol):
    """Delivers a message. Raises `TemporaryFailure` (retry) or `PermanentFailure` (don't)."""

    async def send(self, message: EmailMessage) -> None: ...


class OutboundEmailRepository(Protocol):
    """Tenant-scoped store of outbound email (the tenant comes from the context)."""

    async def add(self, email: OutboundEmail) -> OutboundEmail: ...

    async def get(self, email_id: str) -> OutboundEmail | None: ...

    async def record_attempt(
        self, email_id: str, error: str | None, status: EmailStatus | None = None
    ) -> None:
        """Count one delivery attempt (and its error, if any), setting `status` with it
        in the same atomic update when given (`sent` stamps `sent_at`)."""
        ...

    async def mark(self, email_id: str, status: EmailStatus) -> None:
        """Set the final status (`sent` stamps `sent_at`)."""
        ...

    async def claim(self, email_id: str, *, now: datetime, until: datetime) -> bool:
        """Take the send lease of a `queued` email that no live run holds (none, or one
        that ran out before `now`) until `until`, atomically; False when it is settled or
        another run holds it. `record_attempt` gives the lease back."""
        ...


class StaleEmails(Protocol):
    """Queued email no live run holds, across tenants (the sweeper's view)."""

    async def queued_before(
        self, before: datetime, *, now: datetime, limit: int
    ) -> list[tuple[str, str]]:
        """(tenant id, email id) of emails still `queued`, created before `before`, whose
        send lease (if any) ran out before `now`, oldest first."""
        ...


@dataclass(frozen=True)
class EmailPolicy:
    """How long a delivery run holds an email (`MAIL_SEND_LEASE_SECONDS`; it bounds the
    SMTP conversation too), when the sweeper re-queues one whose job or run was lost
    (`MAIL_SWEEP_AFTER_SECONDS`, `MAIL_SWEEP_BATCH`), and the cap on emails at the mail
    server at once (`MAIL_MAX_IN_FLIGHT`, `MAIL_BUSY_RETRY_SECONDS`)."""

    lease_seconds: float = 120.0
    sweep_after_seconds: float = 300.0
    sweep_batch: int = 500
    max_in_flight: int = 0  # emails at the mail server at once (`MAIL_MAX_IN_FLIGHT`; 0: no cap)
    busy_retry_seconds: float = 5.0  # when a run that found them taken is queued again
