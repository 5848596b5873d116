"""Account flows: self sign-up, and what the verification and password flows share.

Where a flow would otherwise tell a stranger whether an address has an account (resend
verification in `verification.py`, forgot-password in `passwords.py`), it answers the
same whatever the address, and does the real work only when there is an account.

A registration that must be verified is *pending*: stored with `email_verified=False`
and `is_active=False`. Login refuses it like any failed sign-in (the same 401 whether or
not the password matched), so pending accounts reveal nothing to anyone; verifying the
address activates it. Only an account untouched since it registered counts as pending
(see `pending_verification`): a deactivated account never reactivates itself by
verifying its address.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pydantic import EmailStr, TypeAdapter, ValidationError

from api.common.clock import utcnow
from api.common.request_context import current_client
from api.domain.email.messages import ContextValue, EmailTemplate
from api.domain.errors import (
    FieldProblem,
    Forbidden,
    InvalidInput,
    ServiceUnavailable,
)
from api.domain.identity.auth import (
    AuthPolicy,
    OneTimeTokens,
    PasswordHasher,
    RateLimiter,
    Revocations,
    SessionStore,
)
from api.domain.identity.roles import RoleRepository
from api.domain.identity.users import User, UserRepository, check_password_policy, normalize_email
from api.domain.permissions import MEMBER_ROLE
from api.domain.tenancy import current_tenant
from api.domain.tenants.tenant import SignupMode, TenantRepository
from api.usecases.kernel.accounts import enforce_rate, lockout_key
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.mailer import QueueEmail
from api.usecases.kernel.tenant_setup import EnsureTenantSetup

log = logging.getLogger(__name__)

# One-time token purposes (shared with whoever issues invitations).
PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose name, not a secret
EMAIL_VERIFICATION = "email_verification"
INVITATION = "invitation"

REQUESTS_PER_ADDRESS = 5  # reset or verification emails per address and hour
ADDRESS_WINDOW_SECONDS = 3600
_ADDRESS: TypeAdapter[str] = TypeAdapter(EmailStr)


# -- what the flows share ------------------------------------------------------------------


def check_new_password(password: str, *, email: str, min_length: int, field: str) -> None:
    """The password policy, with its problems reported on `field` (422)."""
    try:
        check_password_policy(password, email=email, min_length=min_length)
    except InvalidInput as exc:
        raise InvalidInput(
            exc.detail, [FieldProblem((field,), p.msg) for p in exc.problems]
        ) from None


def valid_email(raw: str) -> str:
    """A normalised, deliverable-looking address; 422 on `email` otherwise."""
    try:
        return normalize_email(_ADDRESS.validate_python(raw.strip()))
    except ValidationError:
        raise InvalidInput(
            "Invalid input.", [FieldProblem(("email",), "not a valid email address")]
        ) from None


def pending_verification(user: User) -> bool:
    """A self-registration waiting for its address to be confirmed: unverified, inactive,
    and never changed since it was created. Every change (an administrator's deactivation
    among them) stamps `updated_at`, so an account an administrator turned off is never
    mistaken for a pending one; when in doubt the answer is no, and an administrator can
    still activate the account."""
    return not user.email_verified and not user.is_active and user.updated_at == user.created_at


class AccountSecurity:
    """The side effects that follow a credential change, in either plane."""

    def __init__(
        self, sessions: SessionStore, revocations: Revocations, limiter: RateLimiter
    ) -> None:
        self._sessions = sessions
        self._revocations = revocations
        self._limiter = limiter

    async def end_all_sessions(self, user: User) -> list[str]:
        """Every session of `user` ends: refresh tokens spent, access tokens refused at once."""
        assert user.id is not None  # noqa: S101 - stored users have ids
        session_ids = await self._sessions.revoke_all(user.tenant_id, user.id)
        # Per session, not `revoke_user`: a new sign-in in the same second must still work.
        await self._revocations.revoke_sessions(session_ids)
        return session_ids

    async def clear_lockout(self, user: User) -> None:
        await self._limiter.reset(lockout_key(user.tenant_id or "platform", user.email))


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


async def limit_address_requests(
    limiter: RateLimiter, action: str, plane: str, email: str, policy: AuthPolicy
) -> None:
    """Per IP and per address limits of an email-sending request (429 when exceeded)."""
    ip, _ = current_client()
    await enforce_rate(limiter, f"{action}:ip:{ip}", policy.sensitive_rate_per_ip)
    await enforce_rate(
        limiter,
        f"{action}:email:{plane}:{email}",
        REQUESTS_PER_ADDRESS,
        window=ADDRESS_WINDOW_SECONDS,
    )


async def send_verification(
    user: User, one_time: OneTimeTokens, mailer: Mailer, policy: AuthPolicy
) -> None:
    """Replace any outstanding verification link of `user` with a new one, by email."""
    assert user.id is not None  # noqa: S101
    await one_time.revoke_for_user(purpose=EMAIL_VERIFICATION, user_id=user.id)
    ttl = policy.verification_ttl_seconds
    token = await one_time.issue(
        purpose=EMAIL_VERIFICATION, user_id=user.id, tenant_id=user.tenant_id, ttl_seconds=ttl
    )
    await mailer.send(
        user.email,
        EmailTemplate.VERIFY_EMAIL,
        {
            "user_name": user.full_name,
            "verify_url": f"{policy.public_base_url}/verify-email?token={token}",
            "expires_minutes": ttl // 60,
        },
    )


# -- sign-up -----------------------------------------------------------------------------------


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
        policy: AuthPolicy,
    ) -> None:
        self._users = users
        self._roles = roles
        self._tenants = tenants
        self._setup = setup
        self._hasher = hasher
        self._one_time = one_time
        self._mailer = mailer
        self._limiter = limiter
        self._auditor = auditor
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
        check_new_password(
            password, email=email, min_length=self._policy.password_min_length, field="password"
        )
        member = await self._roles.get_by_name(MEMBER_ROLE)
        if member is None:  # a tenant set up before its roles: heal it
            member = (await self._setup.execute(tenant_id))[MEMBER_ROLE]
        pending = tenant.require_email_verification
        now = utcnow()
        user = await self._users.add(  # Conflict (409) when the email is taken
            User(
                tenant_id=tenant_id,
                email=email,
                full_name=name,
                password_hash=await self._hasher.hash(password),
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
