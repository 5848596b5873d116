"""Delivering a queued email: the job behind `QueueEmail`."""

from __future__ import annotations

from api.domain.email.messages import (
    Branding,
    EmailMessage,
    EmailRenderer,
    EmailSender,
    EmailStatus,
    MailLinks,
    OutboundEmailRepository,
)
from api.domain.errors import NotFound, PermanentFailure, TemporaryFailure
from api.domain.tenancy import current_tenant
from api.domain.tenants.profile import TenantProfile, TenantProfileRepository
from api.domain.tenants.tenant import Tenant, TenantRepository


class DeliverEmail:
    """Render and send one queued message (run by the worker, in the email's tenant).

    Rules: a message already sent is not sent again (redelivery is harmless); every
    attempt is counted; a permanent refusal marks it failed at once; a temporary one is
    raised for the job to retry, and marks it failed only on the last attempt. The
    tenant's company profile dresses every message (read when it is sent): its display
    name in the sender's name (else `SMTP_FROM_NAME`), and (else the tenant's name) in the
    subject and the text; its brand colour, its email footer and its logo.
    """

    def __init__(
        self,
        outbox: OutboundEmailRepository,
        tenants: TenantRepository,
        profiles: TenantProfileRepository,
        renderer: EmailRenderer,
        sender: EmailSender,
        links: MailLinks,
    ) -> None:
        self._outbox = outbox
        self._tenants = tenants
        self._profiles = profiles
        self._renderer = renderer
        self._sender = sender
        self._links = links

    async def execute(self, email_id: str, *, last_attempt: bool = False) -> EmailStatus:
        email = await self._outbox.get(email_id)
        if email is None:
            raise NotFound("No such email in this tenant.")
        if email.status is not EmailStatus.QUEUED:
            return email.status
        tenant = await self._tenants.get(current_tenant())
        if tenant is None:
            raise NotFound("The email's tenant no longer exists.")
        profile = await self._profiles.get()
        branding = branding_of(tenant, profile, self._links)
        try:
            rendered = self._renderer.render(email.template, email.context, branding)
            await self._sender.send(
                EmailMessage(
                    to=[email.to],
                    subject=rendered.subject,
                    html=rendered.html,
                    text=rendered.text,
                    message_id=f"{email_id}.{tenant.id}",
                    sender_name=profile.display_name if profile else None,
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


def branding_of(tenant: Tenant, profile: TenantProfile | None, links: MailLinks) -> Branding:
    """How the tenant's mail looks, from its company profile (the defaults without one);
    the logo from its public address (`GET /tenant-logos/{tenant_id}`)."""
    if profile is None or tenant.id is None:
        return Branding(tenant_name=tenant.name)
    extra = {"primary_color": profile.brand_color} if profile.brand_color else {}
    return Branding(
        tenant_name=profile.display_name or tenant.name,
        footer=profile.email_footer,
        logo_url=links.tenant_logo(tenant.id) if profile.logo_file_id else None,
        **extra,
    )
