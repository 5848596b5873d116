"""The platform plane's tenant administration: browse, provision, edit, suspend, and check
a subdomain (impersonation is in `impersonation.py`).

Every use case but the public subdomain check takes the caller's `Principal` and admits
platform admins only (a token without a tenant) holding the named `tenants:*` permission.
Tenants are platform-level data; changes are audited with `tenant_id` = the target tenant
(so its owners see them) and `actor_id` = the platform admin.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from api.common.request_context import current_client
from api.domain.email.messages import EmailTemplate
from api.domain.errors import FieldProblem, Forbidden, InvalidInput, NotFound, ServiceUnavailable
from api.domain.identity.auth import AuthPolicy, OneTimeTokens, Principal, RateLimiter
from api.domain.identity.users import PlatformUserRepository, User
from api.domain.permissions import Permission
from api.domain.tenancy import TenantId, tenant_context
from api.domain.tenants.tenant import (
    SignupMode,
    SubdomainIssue,
    Tenant,
    TenantDirectory,
    TenantRepository,
    TenantStatus,
    subdomain_issue,
)
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.kernel.mailer import QueueEmail
from api.usecases.kernel.rate_limits import enforce_rate
from api.usecases.tenants.onboarding import OnboardTenant
from api.usecases.tenants.tenants import SetTenantStatus

SEARCH_LIMIT = 20


def authorize(principal: Principal, permission: Permission) -> None:
    """Platform admins in the platform plane holding `permission`; `Forbidden` otherwise."""
    if not principal.is_platform or not principal.can(permission):
        raise Forbidden(f"This needs the platform '{permission}' permission.")


def _required_text(value: str, field: str) -> str:
    text = value.strip()
    if not text:
        raise InvalidInput(f"Invalid {field}.", [FieldProblem((field,), "must not be blank")])
    return text


async def existing_tenant(tenants: TenantRepository, tenant_id: str) -> Tenant:
    tenant = await tenants.get(tenant_id)
    if tenant is None or tenant.id is None:
        raise NotFound("Tenant not found.")
    return tenant


class TenantPage(BaseModel):
    items: list[Tenant]
    total: int


class BrowseTenants:
    """One page of tenants, platform-wide (`tenants:read`).

    Rules: `query` matches the start of the name or the subdomain, case-insensitively, its
    characters literal; `status` keeps one status; ordered by subdomain.
    """

    def __init__(self, tenants: TenantRepository) -> None:
        self._tenants = tenants

    async def execute(
        self,
        principal: Principal,
        *,
        query: str | None = None,
        status: TenantStatus | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> TenantPage:
        authorize(principal, Permission.TENANTS_READ)
        items, total = await self._tenants.search(
            prefix=query, status=status, skip=(max(page, 1) - 1) * page_size, limit=page_size
        )
        return TenantPage(items=items, total=total)


class SearchTenants:
    """Quick lookup by the start of a name or subdomain (`tenants:read`): at most 20."""

    def __init__(self, tenants: TenantRepository) -> None:
        self._tenants = tenants

    async def execute(self, principal: Principal, name: str) -> list[Tenant]:
        authorize(principal, Permission.TENANTS_READ)
        items, _ = await self._tenants.search(prefix=name, status=None, skip=0, limit=SEARCH_LIMIT)
        return items


class GetTenant:
    """One tenant by id (`tenants:read`); `NotFound` for an unknown or malformed id."""

    def __init__(self, tenants: TenantRepository) -> None:
        self._tenants = tenants

    async def execute(self, principal: Principal, tenant_id: str) -> Tenant:
        authorize(principal, Permission.TENANTS_READ)
        return await existing_tenant(self._tenants, tenant_id)


class InvitationStatus(StrEnum):
    QUEUED = "queued"
    FAILED = "failed"  # the job queue was down: the email is recorded as failed


class Provisioned(BaseModel):
    tenant: Tenant
    owner: User
    invitation: InvitationStatus | None = None  # None: the owner has a password


class ProvisionTenant:
    """Create a tenant with its system roles and owner (`tenants:write`).

    Rules: those of `OnboardTenant` (subdomain a non-reserved DNS label, 422; taken, 409;
    the owner's password policy); without a password the owner is invited: a single-use
    `invitation` token and an `invitation` email queued in the new tenant. A job queue
    outage does not undo the tenant: the email is recorded as failed and reported.
    """

    def __init__(
        self,
        onboard: OnboardTenant,
        one_time: OneTimeTokens,
        queue_email: QueueEmail,
        platform_users: PlatformUserRepository,
        policy: AuthPolicy,
    ) -> None:
        self._onboard = onboard
        self._one_time = one_time
        self._queue_email = queue_email
        self._platform_users = platform_users
        self._policy = policy

    async def execute(
        self,
        principal: Principal,
        *,
        name: str,
        subdomain: str,
        owner_email: str,
        owner_full_name: str,
        owner_password: str | None,
    ) -> Provisioned:
        authorize(principal, Permission.TENANTS_WRITE)
        onboarded = await self._onboard.execute(
            name=_required_text(name, "name"),
            subdomain=subdomain,
            owner_email=owner_email,
            owner_full_name=_required_text(owner_full_name, "owner_full_name"),
            owner_password=owner_password,
            actor_id=principal.user_id,
        )
        tenant, owner = onboarded.tenant, onboarded.owner
        invitation = None
        if owner.password_hash is None:
            invitation = await self._invite(principal, tenant, owner)
        return Provisioned(tenant=tenant, owner=owner, invitation=invitation)

    async def _invite(self, principal: Principal, tenant: Tenant, owner: User) -> InvitationStatus:
        assert tenant.id is not None  # noqa: S101 - stored entities have ids
        assert owner.id is not None  # noqa: S101
        inviter = await self._platform_users.get(principal.user_id)
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


class ChangeTenantStatus:
    """Suspend or reactivate a tenant, audited as `tenant.suspended` / `tenant.activated`.

    Rules: setting the status it already has changes nothing and writes nothing; the
    routing cache of this process is dropped at once (`SetTenantStatus`).
    """

    def __init__(self, set_status: SetTenantStatus, auditor: Auditor) -> None:
        self._set_status = set_status
        self._auditor = auditor

    async def execute(self, principal: Principal, tenant: Tenant, status: TenantStatus) -> Tenant:
        authorize(principal, Permission.TENANTS_WRITE)
        assert tenant.id is not None  # noqa: S101 - stored tenants have ids
        if tenant.status is status:
            return tenant
        changed = await self._set_status.execute(tenant.id, status)
        verb = "suspended" if status is TenantStatus.SUSPENDED else "activated"
        await self._auditor.record(
            f"tenant.{verb}", "tenant", tenant.id, actor_id=principal.user_id,
            changes={"status": {"from": tenant.status.value, "to": status.value}},
            tenant_id=tenant.id,
        )  # fmt: skip
        return changed


class UpdateTenant:
    """Edit a tenant's name, sign-up mode, email-verification rule or status (`tenants:write`).

    Rules: an unknown tenant is `NotFound`; a blank name is invalid; the subdomain never
    changes; field changes are audited once as `tenant.updated` with their diff; a status
    change goes through `ChangeTenantStatus`; nothing changed, nothing written.
    """

    def __init__(
        self,
        tenants: TenantRepository,
        directory: TenantDirectory,
        change_status: ChangeTenantStatus,
        auditor: Auditor,
    ) -> None:
        self._tenants = tenants
        self._directory = directory
        self._change_status = change_status
        self._auditor = auditor

    async def execute(
        self,
        principal: Principal,
        tenant_id: str,
        *,
        name: str | None = None,
        signup_mode: SignupMode | None = None,
        require_email_verification: bool | None = None,
        status: TenantStatus | None = None,
    ) -> Tenant:
        authorize(principal, Permission.TENANTS_WRITE)
        tenant = await existing_tenant(self._tenants, tenant_id)
        wanted: dict[str, Any] = {}
        if name is not None:
            wanted["name"] = _required_text(name, "name")
        if signup_mode is not None:
            wanted["signup_mode"] = signup_mode.value
        if require_email_verification is not None:
            wanted["require_email_verification"] = require_email_verification
        changes = diff(tenant.model_dump(mode="json", include=set(wanted)), wanted)
        if changes:
            updated = await self._tenants.update(tenant_id, {k: wanted[k] for k in changes})
            if updated is None:
                raise NotFound("Tenant not found.")
            self._directory.forget(updated)
            await self._auditor.record(
                "tenant.updated", "tenant", tenant.id, actor_id=principal.user_id,
                changes=changes, tenant_id=tenant.id,
            )  # fmt: skip
            tenant = updated
        if status is not None:
            tenant = await self._change_status.execute(principal, tenant, status)
        return tenant


class SuspendTenant:
    """`DELETE /tenants/{id}`: suspend (`tenants:write`); data stays, purging is a job.

    Rules: an unknown tenant is `NotFound`; suspending a suspended tenant is a no-op.
    """

    def __init__(self, tenants: TenantRepository, change_status: ChangeTenantStatus) -> None:
        self._tenants = tenants
        self._change_status = change_status

    async def execute(self, principal: Principal, tenant_id: str) -> Tenant:
        authorize(principal, Permission.TENANTS_WRITE)
        tenant = await existing_tenant(self._tenants, tenant_id)
        return await self._change_status.execute(principal, tenant, TenantStatus.SUSPENDED)


class SubdomainAvailability(BaseModel):
    subdomain: str
    available: bool
    reason: SubdomainIssue | None = None


class CheckSubdomainAvailability:
    """Whether a subdomain could be had now (public: sign-up forms ask before submitting).

    Rules: limited per client IP (3 x the sensitive rate per minute, else `RateLimited`);
    the answer is never an error for a bad value: `invalid` (not a DNS label), `reserved`
    (never available) or `taken` (by any tenant, suspended ones too).
    """

    def __init__(self, tenants: TenantRepository, limiter: RateLimiter, policy: AuthPolicy) -> None:
        self._tenants = tenants
        self._limiter = limiter
        self._policy = policy

    async def execute(self, raw: str) -> SubdomainAvailability:
        ip, _ = current_client()
        limit = self._policy.sensitive_rate_per_ip * 3
        await enforce_rate(self._limiter, f"subdomain-check:ip:{ip or 'unknown'}", limit)
        subdomain = raw.strip().lower()
        issue = subdomain_issue(subdomain)
        if issue is None and await self._tenants.get_by_subdomain(subdomain) is not None:
            issue = SubdomainIssue.TAKEN
        return SubdomainAvailability(subdomain=subdomain, available=issue is None, reason=issue)
