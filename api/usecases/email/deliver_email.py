"""Delivering a queued email: the job behind `QueueEmail`."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from datetime import timedelta

from api.domain.clock import Clock
from api.domain.email.messages import (
    PLATFORM_MAIL,
    Branding,
    EmailMessage,
    EmailPolicy,
    EmailRenderer,
    EmailSender,
    EmailStatus,
    MailLinks,
    OutboundEmail,
    OutboundEmailRepository,
)
from api.domain.errors import (
    NotFound,
    PermanentFailure,
    TemporaryFailure,
)
from api.domain.slots import ProviderSlots
from api.domain.tenancy import current_tenant
from api.domain.tenants.profile import TenantProfile, TenantProfileRepository
from api.domain.tenants.tenant import Tenant, TenantRepository
from api.usecases.kernel.slots import provider_slot

SMTP_SLOTS = "smtp"  # one mail server for every tenant (`SMTP_*`)


class DeliverEmail:
    """Render and send one queued message (run by the worker, in the email's tenant).

    Rules: a message already sent is not sent again, and one another run holds (its send
    lease, `EmailPolicy.lease_seconds`) is left to it: a redelivered, re-queued or
    duplicated job is harmless. The SMTP conversation is cut (a temporary failure) at
    half the lease, so a live run never outlasts its lease; a run that dies leaves the
    lease to run out and the email to the sweep (`SweepOutboundEmails`). Every attempt
    is counted; a permanent refusal marks it failed at once; a temporary one is raised
    for the job to retry, and marks it failed only on the last attempt. The tenant's
    company profile dresses every message (read when it is sent): its display name in
    the sender's name (else `SMTP_FROM_NAME`), and (else the tenant's name) in the
    subject and the text; its brand colour, its email footer and its logo.

    With `EmailPolicy.max_in_flight` set (0: off), at most that many emails are at the
    mail server at once, across every worker (slots in Redis, each freed when its run ends
    or its lease runs out): a run finding them all taken is queued again after
    `busy_retry_seconds` (`Deferred`: its attempts untouched, no lease taken), holding no
    worker thread meanwhile, so a mail server that hangs holds a few of the workers'
    threads, never all of them, and other jobs (sends, webhooks) keep running.
    """

    def __init__(
        self,
        outbox: OutboundEmailRepository,
        tenants: TenantRepository,
        profiles: TenantProfileRepository,
        renderer: EmailRenderer,
        sender: EmailSender,
        links: MailLinks,
        clock: Clock,
        policy: EmailPolicy,
        slots: ProviderSlots,
    ) -> None:
        self._outbox = outbox
        self._tenants = tenants
        self._profiles = profiles
        self._renderer = renderer
        self._sender = sender
        self._links = links
        self._clock = clock
        self._policy = policy
        self._slots = slots

    async def execute(self, email_id: str, *, last_attempt: bool = False) -> EmailStatus:
        email = await self._outbox.get(email_id)
        if email is None:
            raise NotFound("No such email in this tenant.")
        if email.status is not EmailStatus.QUEUED:
            return email.status
        tenant: Tenant | None = None  # the platform's own mail has none
        if current_tenant() != PLATFORM_MAIL:
            tenant = await self._tenants.get(current_tenant())
            if tenant is None:
                raise NotFound("The email's tenant no longer exists.")
        async with self._slot(email_id):
            return await self._deliver(email, tenant, last_attempt=last_attempt)

    def _slot(self, email_id: str) -> AbstractAsyncContextManager[None]:
        """One of the mail server's slots for this run, or `Deferred` (taken before the
        email's lease, so a deferred run has nothing to give back)."""
        policy = self._policy
        return provider_slot(
            self._slots, SMTP_SLOTS, email_id,
            limit=policy.max_in_flight, hold_seconds=policy.lease_seconds,
            busy="The mail server's slots are taken.", retry_after=policy.busy_retry_seconds,
        )  # fmt: skip

    async def _deliver(
        self, email: OutboundEmail, tenant: Tenant | None, *, last_attempt: bool
    ) -> EmailStatus:
        email_id = email.id or ""
        now = self._clock.now()
        until = now + timedelta(seconds=self._policy.lease_seconds)
        if not await self._outbox.claim(email_id, now=now, until=until):
            held = await self._outbox.get(email_id)  # settled meanwhile, or another run's
            return held.status if held is not None else EmailStatus.QUEUED
        profile = await self._profiles.get() if tenant is not None else None
        branding = branding_of(tenant, profile, self._links)
        try:
            rendered = self._renderer.render(email.template, email.context, branding)
            message = EmailMessage(
                to=[email.to],
                subject=rendered.subject,
                html=rendered.html,
                text=rendered.text,
                message_id=f"{email_id}.{current_tenant()}",
                sender_name=profile.display_name if profile else None,
            )
            try:
                async with asyncio.timeout(self._policy.lease_seconds / 2):
                    await self._sender.send(message)
            except TimeoutError:
                raise TemporaryFailure("the mail server took too long") from None
        except TemporaryFailure as exc:
            final = EmailStatus.FAILED if last_attempt else None
            await self._outbox.record_attempt(email_id, str(exc), final)
            raise
        except PermanentFailure as exc:
            await self._outbox.record_attempt(email_id, str(exc), EmailStatus.FAILED)
            raise
        await self._outbox.record_attempt(email_id, None, EmailStatus.SENT)
        return EmailStatus.SENT


def branding_of(tenant: Tenant | None, profile: TenantProfile | None, links: MailLinks) -> Branding:
    """How the tenant's mail looks, from its company profile (the defaults without one);
    the logo from its public address (`GET /tenant-logos/{tenant_id}`). No tenant: the
    platform's own mail, dressed as the product's."""
    if tenant is None:
        return Branding.platform()
    if profile is None or tenant.id is None:
        return Branding(tenant_name=tenant.name)
    extra = {"primary_color": profile.brand_color} if profile.brand_color else {}
    return Branding(
        tenant_name=profile.display_name or tenant.name,
        footer=profile.email_footer,
        logo_url=links.tenant_logo(tenant.id) if profile.logo_file_id else None,
        **extra,
    )
