"""Passwords: forgot, reset (also how an invited user sets a first one), and change.

Every successful password change ends *all* of the account's sessions, the caller's own
included: refresh tokens are spent and access tokens refused at once, and the client
signs in again with the new password.
"""

from __future__ import annotations

from api.common.request_context import current_client
from api.domain.email.messages import EmailTemplate
from api.domain.errors import FieldProblem, Forbidden, InvalidInput, InvalidToken, Unauthorized
from api.domain.identity.auth import (
    AuthPolicy,
    OneTimeTokens,
    PasswordHasher,
    Principal,
    RateLimiter,
)
from api.domain.identity.users import User, normalize_email
from api.domain.tenancy import current_tenant
from api.usecases.identity.account import (
    INVITATION,
    PASSWORD_RESET,
    AccountSecurity,
    Mailer,
    check_new_password,
    limit_address_requests,
)
from api.usecases.kernel.accounts import Accounts, enforce_rate
from api.usecases.kernel.auditor import Auditor

BAD_LINK = "This link is not valid or has expired; ask for a new one."
WRONG_CURRENT_PASSWORD = "The current password is not correct."  # noqa: S105 - a message


class RequestPasswordReset:
    """Email a password-reset link; the answer is the same whether or not the address has
    an account.

    Rules: limited per IP and per address (429, for unknown addresses too); only an
    existing, active account of this tenant gets a link; a new link replaces older ones;
    the link is single-use and expires (`reset_ttl_seconds`); it goes out through the job
    queue. The audit entry never holds the token.
    """

    def __init__(
        self,
        accounts: Accounts,
        one_time: OneTimeTokens,
        mailer: Mailer,
        limiter: RateLimiter,
        auditor: Auditor,
        policy: AuthPolicy,
    ) -> None:
        self._accounts = accounts
        self._one_time = one_time
        self._mailer = mailer
        self._limiter = limiter
        self._auditor = auditor
        self._policy = policy

    async def execute(self, email: str) -> None:
        tenant_id = current_tenant()
        email = normalize_email(email)
        await limit_address_requests(self._limiter, "forgot", tenant_id, email, self._policy)
        user = await self._accounts.by_email(email)
        if user is None or user.id is None or not user.is_active:
            await self._auditor.record(
                "auth.password_reset_requested", "user", None, actor_id=None,
                changes={"email": email, "sent": False},
            )  # fmt: skip
            return
        await self._one_time.revoke_for_user(purpose=PASSWORD_RESET, user_id=user.id)
        ttl = self._policy.reset_ttl_seconds
        token = await self._one_time.issue(
            purpose=PASSWORD_RESET, user_id=user.id, tenant_id=tenant_id, ttl_seconds=ttl
        )
        sent = await self._mailer.send(
            user.email,
            EmailTemplate.PASSWORD_RESET,
            {
                "user_name": user.full_name,
                "reset_url": f"{self._policy.public_base_url}/reset-password?token={token}",
                "expires_minutes": ttl // 60,
            },
        )
        await self._auditor.record(
            "auth.password_reset_requested", "user", user.id, actor_id=None,
            changes={"email": email, "sent": sent},
        )  # fmt: skip


class ResetPassword:
    """Set a new password with a `password_reset` or `invitation` token.

    Rules: the token is single-use, expiring, and for this tenant (else `InvalidToken`,
    400; a token presented in another tenant is spent all the same); the password policy
    applies (422; the length rules are checked before the token is spent). Then: the
    address counts as verified (the link reached it), every other outstanding reset or
    invitation link of the user stops working, every session of the user ends, and a
    sign-in lockout is cleared.
    """

    def __init__(
        self,
        accounts: Accounts,
        hasher: PasswordHasher,
        one_time: OneTimeTokens,
        security: AccountSecurity,
        limiter: RateLimiter,
        auditor: Auditor,
        policy: AuthPolicy,
    ) -> None:
        self._accounts = accounts
        self._hasher = hasher
        self._one_time = one_time
        self._security = security
        self._limiter = limiter
        self._auditor = auditor
        self._policy = policy

    async def execute(self, token: str, new_password: str) -> None:
        tenant_id = current_tenant()
        ip, _ = current_client()
        await enforce_rate(self._limiter, f"reset:ip:{ip}", self._policy.sensitive_rate_per_ip)
        minimum = self._policy.password_min_length
        check_new_password(new_password, email="", min_length=minimum, field="new_password")
        purpose = PASSWORD_RESET
        claimed = await self._one_time.consume(purpose=PASSWORD_RESET, token=token)
        if claimed is None:
            purpose = INVITATION
            claimed = await self._one_time.consume(purpose=INVITATION, token=token)
        if claimed is None or claimed[1] != tenant_id:
            raise InvalidToken(BAD_LINK)
        user = await self._accounts.by_id(claimed[0])
        if user is None or user.id is None:
            raise InvalidToken(BAD_LINK)
        check_new_password(new_password, email=user.email, min_length=minimum, field="new_password")
        await self._accounts.update(
            user.id,
            {"password_hash": await self._hasher.hash(new_password), "email_verified": True},
        )
        for spent in (PASSWORD_RESET, INVITATION):
            await self._one_time.revoke_for_user(purpose=spent, user_id=user.id)
        ended = await self._security.end_all_sessions(user)
        await self._security.clear_lockout(user)
        action = "auth.password_reset" if purpose == PASSWORD_RESET else "user.invitation_accepted"
        await self._auditor.record(
            action, "user", user.id, actor_id=user.id,
            changes={"sessions_ended": len(ended)},
        )  # fmt: skip


class ChangePassword:
    """Change one's own password, knowing the current one (tenant users and platform admins).

    Rules: not through impersonation (403); the current password must match (401,
    attempts limited per user: 429); the new one meets the policy and differs from the
    current one (422). Then every session of the user ends, the caller's included (the
    client signs in again), and outstanding reset links stop working.
    """

    def __init__(
        self,
        accounts: Accounts,
        hasher: PasswordHasher,
        one_time: OneTimeTokens,
        security: AccountSecurity,
        limiter: RateLimiter,
        auditor: Auditor,
        policy: AuthPolicy,
    ) -> None:
        self._accounts = accounts
        self._hasher = hasher
        self._one_time = one_time
        self._security = security
        self._limiter = limiter
        self._auditor = auditor
        self._policy = policy

    async def execute(self, principal: Principal, current: str, new: str) -> None:
        if principal.actor_id is not None:
            raise Forbidden("A password cannot be changed while impersonating.")
        await enforce_rate(
            self._limiter, f"password:user:{principal.user_id}", self._policy.sensitive_rate_per_ip
        )
        user = await self._accounts.by_id(principal.user_id)
        if user is None or user.id is None or not user.is_active:
            raise Unauthorized("The account is not available.")
        matches, _ = await self._hasher.verify(current, user.password_hash)
        if not matches:
            await self._auditor.record(
                "user.password_change_failed", "user", user.id, actor_id=user.id
            )
            raise Unauthorized(WRONG_CURRENT_PASSWORD)
        check_new_password(
            new, email=user.email, min_length=self._policy.password_min_length, field="new_password"
        )
        if new == current:
            raise InvalidInput(
                "The password does not meet the policy.",
                [FieldProblem(("new_password",), "must differ from the current password")],
            )
        await self._update(user, new)

    async def _update(self, user: User, new: str) -> None:
        assert user.id is not None  # noqa: S101
        await self._accounts.update(user.id, {"password_hash": await self._hasher.hash(new)})
        await self._one_time.revoke_for_user(purpose=PASSWORD_RESET, user_id=user.id)
        ended = await self._security.end_all_sessions(user)
        await self._security.clear_lockout(user)
        await self._auditor.record(
            "user.password_changed", "user", user.id, actor_id=user.id,
            changes={"sessions_ended": len(ended)},
        )  # fmt: skip
