"""Self-service sign-up: a public form makes a pending tenant with its owner; the owner
confirms the email; a platform admin approves or rejects (or, with
`SIGNUP_AUTO_APPROVE`, the confirmation approves).

A pending tenant serves nothing (`ResolveTenant` refuses it with 403 `tenant_pending`),
so the sign-up's own steps run in the platform plane: the verification link's token
names the user and the tenant.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from api.common.request_context import current_client
from api.domain.email.messages import PLATFORM_MAIL, EmailTemplate
from api.domain.errors import Conflict, InvalidToken, NotFound
from api.domain.identity.auth import AuthPolicy, OneTimeTokens, RateLimiter
from api.domain.identity.roles import RoleRepository
from api.domain.identity.users import PlatformUserRepository, User, UserRepository
from api.domain.permissions import OWNER_ROLE, Permission
from api.domain.tenancy import TenantId, tenant_context
from api.domain.tenants.tenant import Tenant, TenantDirectory, TenantRepository, TenantStatus
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.mailer import Mailer
from api.usecases.kernel.rate_limits import enforce_rate
from api.usecases.tenants.create_tenant import CreateTenant, owner_address
from api.usecases.tenants.rules import PlatformCaller, authorize, existing_tenant, required_text

log = logging.getLogger(__name__)

SIGNUP_VERIFICATION = "signup_verification"
NOT_VERIFIED = "The owner has not confirmed their email address yet."


@dataclass(frozen=True)
class SignupPolicy:
    """`SIGNUP_*` settings."""

    enabled: bool = True
    auto_approve: bool = False
    rate_per_ip: int = 5
    ip_window_seconds: int = 3600


class SignUpTenant:
    """`POST /signup`: a new pending tenant, its system roles and its owner.

    Rules: 404 when `SIGNUP_ENABLED` is off; limited per IP (429); a filled honeypot
    (`website`) looks accepted but stores nothing; `company` and `full_name` not blank,
    `email` an address, `password` the policy's (422, before anything is stored); the
    subdomain as for any tenant (422 invalid or reserved, 409 taken: the one thing the
    form reveals, as the public availability check does). Emails are per tenant, so an
    address used elsewhere is neither refused nor revealed. The tenant is `pending`, the
    owner active but unverified; a verification link (`signup_verification`, the email
    verification TTL) goes to the owner through the job queue. Audited as
    `tenant.signed_up` in the new tenant, the owner as actor.
    """

    def __init__(
        self,
        create: CreateTenant,
        one_time: OneTimeTokens,
        mailer: Mailer,
        limiter: RateLimiter,
        auth: AuthPolicy,
        policy: SignupPolicy,
    ) -> None:
        self._create = create
        self._one_time = one_time
        self._mailer = mailer
        self._limiter = limiter
        self._auth = auth
        self._policy = policy

    async def execute(
        self,
        *,
        company: str,
        subdomain: str,
        email: str,
        password: str,
        full_name: str,
        website: str | None = None,
    ) -> None:
        if not self._policy.enabled:
            raise NotFound("Self-service sign-up is not available here.")
        ip, _ = current_client()
        await enforce_rate(
            self._limiter,
            f"signup:ip:{ip}",
            self._policy.rate_per_ip,
            window=self._policy.ip_window_seconds,
        )
        if (website or "").strip():
            log.info("sign-up trapped by the honeypot (nothing stored)")
            return
        company = required_text(company, "company")
        full_name = required_text(full_name, "full_name")
        email = owner_address(email, field="email")
        tenant, owner = await self._create.store(
            name=company,
            subdomain=subdomain,
            owner_email=email,
            owner_full_name=full_name,
            owner_password=password,
            actor_id=None,
            status=TenantStatus.PENDING,
            action="tenant.signed_up",
            owner_acts=True,
        )
        assert tenant.id is not None  # noqa: S101 - stored entities have ids
        assert owner.id is not None  # noqa: S101
        ttl = self._auth.verification_ttl_seconds
        with tenant_context(TenantId(tenant.id)):
            token = await self._one_time.issue(
                purpose=SIGNUP_VERIFICATION, user_id=owner.id, tenant_id=tenant.id, ttl_seconds=ttl
            )
            await self._mailer.send(
                owner.email,
                EmailTemplate.VERIFY_EMAIL,
                {
                    "user_name": owner.full_name,
                    "verify_url": f"{self._auth.public_base_url}/signup/verify?token={token}",
                    "expires_minutes": ttl // 60,
                },
            )


class TenantOwners:
    """The owner of a tenant (the first user holding its `owner` role), and telling them
    by email what became of their sign-up."""

    def __init__(
        self, roles: RoleRepository, users: UserRepository, mailer: Mailer, auth: AuthPolicy
    ) -> None:
        self._roles = roles
        self._users = users
        self._mailer = mailer
        self._auth = auth

    async def owner_of(self, tenant_id: str) -> User | None:
        with tenant_context(TenantId(tenant_id)):
            role = await self._roles.get_by_name(OWNER_ROLE)
            if role is None or role.id is None:
                return None
            page = await self._users.search(
                query=None, is_active=None, role_id=role.id, skip=0, limit=1
            )
        return page.items[0] if page.items else None

    async def tell(self, tenant: Tenant, owner: User, reason: str | None = None) -> None:
        assert tenant.id is not None  # noqa: S101
        with tenant_context(TenantId(tenant.id)):
            if tenant.status is TenantStatus.ACTIVE:
                await self._mailer.send(
                    owner.email,
                    EmailTemplate.TENANT_APPROVED,
                    {
                        "user_name": owner.full_name,
                        "login_url": f"{self._auth.public_base_url}/login",
                    },
                )
            else:
                await self._mailer.send(
                    owner.email,
                    EmailTemplate.TENANT_REJECTED,
                    {"user_name": owner.full_name, "reason": reason},
                )


class ReviewSignup:
    """Approve or reject a pending tenant (`tenants:write`, platform plane).

    Rules: an unknown tenant is 404; one that is not `pending` is 409 (so approving twice
    is 409), and so is approving before the owner confirmed their email; the status moves
    atomically from `pending` (two admins at once: one wins, the other gets 409). Approved:
    `active`, serving at once (the routing cache entry is dropped); rejected: `rejected`,
    serving nothing, kept with its subdomain (an operator purges it). Audited as
    `tenant.approved` / `tenant.rejected` (with the reason) in the tenant, the admin as
    actor (the owner when their email confirmation approved it by `SIGNUP_AUTO_APPROVE`);
    the owner is told by email either way.
    """

    def __init__(
        self,
        tenants: TenantRepository,
        directory: TenantDirectory,
        owners: TenantOwners,
        auditor: Auditor,
    ) -> None:
        self._tenants = tenants
        self._directory = directory
        self._owners = owners
        self._auditor = auditor

    async def approve(self, caller: PlatformCaller, tenant_id: str) -> Tenant:
        authorize(caller, Permission.TENANTS_WRITE)
        return await self.decide(caller.user_id, tenant_id, approve=True)

    async def reject(self, caller: PlatformCaller, tenant_id: str, reason: str | None) -> Tenant:
        authorize(caller, Permission.TENANTS_WRITE)
        reason = (reason or "").strip() or None
        return await self.decide(caller.user_id, tenant_id, approve=False, reason=reason)

    async def decide(
        self, actor_id: str | None, tenant_id: str, *, approve: bool, reason: str | None = None
    ) -> Tenant:
        """The decision itself (callers authorise first)."""
        tenant = await existing_tenant(self._tenants, tenant_id)
        assert tenant.id is not None  # noqa: S101
        if tenant.status is not TenantStatus.PENDING:
            raise Conflict(f"This tenant is {tenant.status.value}, not pending.")
        owner = await self._owners.owner_of(tenant.id)
        if approve and (owner is None or not owner.email_verified):
            raise Conflict(NOT_VERIFIED)
        status = TenantStatus.ACTIVE if approve else TenantStatus.REJECTED
        changed = await self._tenants.set_status(tenant.id, status, only_from=TenantStatus.PENDING)
        if changed is None:
            raise Conflict("This tenant is no longer pending.")
        self._directory.forget(changed)
        changes: dict[str, object] = {"status": {"from": "pending", "to": status.value}}
        if reason is not None:
            changes["reason"] = reason
        verb = "approved" if approve else "rejected"
        await self._auditor.record(
            f"tenant.{verb}", "tenant", tenant.id, actor_id=actor_id, changes=changes,
            tenant_id=tenant.id,
        )  # fmt: skip
        if owner is not None:
            await self._owners.tell(changed, owner, reason)
        return changed


class VerifySignup:
    """`POST /signup/verify`: the owner confirms their email with the link's token.

    Rules: limited per IP (429); the token is single-use, expiring and for a sign-up
    (else 400 `invalid_token`); the owner's address becomes verified (audited as
    `user.email_verified`); with `SIGNUP_AUTO_APPROVE` a still pending tenant is then
    approved (as `ReviewSignup` does, the owner as actor); without it, every active
    platform admin is told by email that the sign-up awaits their review (once: not when
    the address was confirmed before, nor once the tenant was decided).
    """

    def __init__(
        self,
        one_time: OneTimeTokens,
        users: UserRepository,
        tenants: TenantRepository,
        review: ReviewSignup,
        limiter: RateLimiter,
        auditor: Auditor,
        auth: AuthPolicy,
        policy: SignupPolicy,
        admins: PlatformUserRepository,
        mailer: Mailer,
    ) -> None:
        self._one_time = one_time
        self._users = users
        self._tenants = tenants
        self._review = review
        self._limiter = limiter
        self._auditor = auditor
        self._auth = auth
        self._policy = policy
        self._admins = admins
        self._mailer = mailer

    async def execute(self, token: str) -> None:
        ip, _ = current_client()
        await enforce_rate(self._limiter, f"verify:ip:{ip}", self._auth.sensitive_rate_per_ip)
        claimed = await self._one_time.consume(purpose=SIGNUP_VERIFICATION, token=token)
        if claimed is None or claimed[1] is None:
            raise InvalidToken("This verification link is not valid or has expired.")
        user_id, tenant_id = claimed[0], claimed[1]
        with tenant_context(TenantId(tenant_id)):
            before = await self._users.get(user_id)
            user = await self._users.update(user_id, {"email_verified": True})
            if before is None or user is None:
                raise InvalidToken("This verification link is not valid or has expired.")
            await self._auditor.record(
                "user.email_verified", "user", user_id, actor_id=user_id,
                changes={"email_verified": True, "activated": False},
            )  # fmt: skip
        tenant = await self._tenants.get(tenant_id)
        if tenant is None or tenant.status is not TenantStatus.PENDING:
            return
        if self._policy.auto_approve:
            with contextlib.suppress(Conflict):  # decided meanwhile (an admin, a 2nd click)
                await self._review.decide(user_id, tenant_id, approve=True)
        elif not before.email_verified:
            await self._ask_for_review(tenant, user)

    async def _ask_for_review(self, tenant: Tenant, owner: User) -> None:
        """Tell every active platform admin (the platform's own mail) that the sign-up
        awaits their review. A notice that cannot be queued is logged by the mailer."""
        with tenant_context(PLATFORM_MAIL):
            for admin in await self._admins.all():
                if admin.is_active:
                    await self._mailer.send(
                        admin.email,
                        EmailTemplate.SIGNUP_AWAITING_REVIEW,
                        {
                            "user_name": admin.full_name,
                            "company": tenant.name,
                            "subdomain": tenant.subdomain,
                            "owner_name": owner.full_name,
                            "owner_email": owner.email,
                            "login_url": f"{self._auth.public_base_url}/login",
                        },
                    )
