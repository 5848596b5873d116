"""Inviting a new tenant's owner by email (the owner was given no password)."""

from __future__ import annotations

from enum import StrEnum

from api.domain.email.messages import EmailTemplate
from api.domain.errors import ServiceUnavailable
from api.domain.identity.auth import AuthPolicy, OneTimeTokens
from api.domain.identity.users import PlatformUserRepository, User
from api.domain.tenancy import TenantId, tenant_context
from api.domain.tenants.tenant import Tenant
from api.usecases.kernel.mailer import QueueEmail


class InvitationStatus(StrEnum):
    QUEUED = "queued"
    FAILED = "failed"  # the job queue was down: the email is recorded as failed


class InviteTenantOwner:
    """Send a new tenant's owner a single-use link to choose a password (part of
    `CreateTenant`).

    Rules: the link carries an `invitation` token for that owner in that tenant, valid for
    the invitation TTL; the `invitation` email is queued in the new tenant and names the
    inviting platform admin, or the platform itself when none did (the console); a job
    queue outage does not undo anything: the email is recorded as failed and reported.
    """

    def __init__(
        self,
        one_time: OneTimeTokens,
        queue_email: QueueEmail,
        platform_users: PlatformUserRepository,
        policy: AuthPolicy,
    ) -> None:
        self._one_time = one_time
        self._queue_email = queue_email
        self._platform_users = platform_users
        self._policy = policy

    async def execute(
        self, inviter_id: str | None, tenant: Tenant, owner: User
    ) -> InvitationStatus:
        assert tenant.id is not None  # noqa: S101 - stored entities have ids
        assert owner.id is not None  # noqa: S101
        inviter = await self._platform_users.get(inviter_id) if inviter_id else None
        ttl = self._policy.invitation_ttl_seconds
        with tenant_context(TenantId(tenant.id)):
            token = await self._one_time.issue(
                purpose="invitation", user_id=owner.id, tenant_id=tenant.id, ttl_seconds=ttl
            )
            context: dict[str, str | int] = {
                "inviter_name": inviter.full_name if inviter else self._policy.issuer_name,
                "user_name": owner.full_name,
                "accept_url": f"{self._policy.public_base_url}/accept-invitation?token={token}",
                "expires_hours": max(1, ttl // 3600),
            }
            try:
                await self._queue_email.execute(owner.email, EmailTemplate.INVITATION, context)
            except ServiceUnavailable:
                return InvitationStatus.FAILED
        return InvitationStatus.QUEUED
