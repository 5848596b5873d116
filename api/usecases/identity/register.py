"""Self sign-up in a tenant that allows it (pending until verified when the tenant asks)."""

from __future__ import annotations

from api.common.clock import utcnow
from api.common.request_context import current_client
from api.domain.email.messages import EmailTemplate
from api.domain.errors import FieldProblem, Forbidden, InvalidInput
from api.domain.identity.auth import AuthPolicy, OneTimeTokens, PasswordHasher, RateLimiter
from api.domain.identity.roles import RoleRepository
from api.domain.identity.users import User, UserRepository
from api.domain.permissions import MEMBER_ROLE
from api.domain.plans import LimitName
from api.domain.tenancy import current_tenant
from api.domain.tenants.tenant import SignupMode, TenantRepository
from api.usecases.identity.account_mail import send_verification
from api.usecases.identity.rules import valid_email
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.mailer import Mailer
from api.usecases.kernel.passwords import PasswordRules
from api.usecases.kernel.plan_gate import PlanGate
from api.usecases.kernel.rate_limits import enforce_rate
from api.usecases.kernel.tenant_setup import EnsureTenantSetup


class Register:
    """Sign up as a member of the tenant in context.

    Rules: only when the tenant's sign-up mode is `open` (403 otherwise); the email is
    unique in the tenant (409); the password policy applies (422); attempts are limited
    per IP (429). The new user gets the tenant's `member` role. When the tenant requires
    email verification the account is pending (unverified and inactive: it cannot sign
    in) and a `verify_email` message goes out; otherwise it is active at once and gets a
    `welcome` message. A mail outage does not undo the account (verification can be
    resent).
    """

    def __init__(
        self,
        users: UserRepository,
        roles: RoleRepository,
        tenants: TenantRepository,
        setup: EnsureTenantSetup,
        hasher: PasswordHasher,
        one_time: OneTimeTokens,
        mailer: Mailer,
        limiter: RateLimiter,
        auditor: Auditor,
        passwords: PasswordRules,
        policy: AuthPolicy,
        gate: PlanGate,
    ) -> None:
        self._gate = gate
        self._users = users
        self._roles = roles
        self._tenants = tenants
        self._setup = setup
        self._hasher = hasher
        self._one_time = one_time
        self._mailer = mailer
        self._limiter = limiter
        self._auditor = auditor
        self._passwords = passwords
        self._policy = policy

    async def execute(self, *, email: str, password: str, full_name: str) -> User:
        tenant_id = current_tenant()
        ip, _ = current_client()
        await enforce_rate(self._limiter, f"register:ip:{ip}", self._policy.sensitive_rate_per_ip)
        tenant = await self._tenants.get(tenant_id)
        if tenant is None or tenant.signup_mode is not SignupMode.OPEN:
            raise Forbidden(
                "This organisation does not allow self sign-up; ask an administrator to invite you."
            )
        email, name = valid_email(email), " ".join(full_name.split())
        if not name:
            raise InvalidInput("Invalid input.", [FieldProblem(("full_name",), "is required")])
        await self._passwords.check(password, email=email)
        member = await self._roles.get_by_name(MEMBER_ROLE)
        if member is None:  # a tenant set up before its roles: heal it
            member = (await self._setup.execute(tenant_id))[MEMBER_ROLE]
        pending = tenant.require_email_verification
        password_hash = await self._hasher.hash(password)
        now = utcnow()
        async with self._gate.admitting(LimitName.SEATS):  # 402 past the plan's seats
            user = await self._users.add(  # Conflict (409) when the email is taken
                User(
                    tenant_id=tenant_id,
                    email=email,
                    full_name=name,
                    password_hash=password_hash,
                    is_active=not pending,
                    email_verified=False,
                    role_ids=[member.id or ""],
                    created_at=now,
                    updated_at=now,
                )
            )
        assert user.id is not None  # noqa: S101
        await self._auditor.record(
            "user.registered", "user", user.id, actor_id=user.id,
            changes={"email": email, "pending_verification": pending},
        )  # fmt: skip
        if pending:
            await send_verification(user, self._one_time, self._mailer, self._policy)
        else:
            await self._mailer.send(
                email,
                EmailTemplate.WELCOME,
                {"user_name": name, "login_url": f"{self._policy.public_base_url}/login"},
            )
        return user
