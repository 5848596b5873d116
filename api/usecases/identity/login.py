"""Signing in with email and password (the first step when MFA is on)."""

from __future__ import annotations

from typing import NoReturn

from pydantic import BaseModel

from api.common.request_context import current_client
from api.domain.errors import RateLimited, Unauthorized
from api.domain.identity.auth import (
    AuthPolicy,
    PasswordHasher,
    RateLimiter,
    TokenPair,
    TokenService,
)
from api.domain.identity.users import User, normalize_email
from api.domain.tenancy import current_tenant_or_none
from api.usecases.identity.rules import lockout_key
from api.usecases.identity.security_notices import SignInNotices
from api.usecases.kernel.accounts import Accounts
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.rate_limits import enforce_rate
from api.usecases.kernel.sessions import SessionIssuer

BAD_CREDENTIALS = "Invalid email or password."


class LoginResult(BaseModel):
    tokens: TokenPair | None = None
    mfa_token: str | None = None


class Login:
    """Sign in with email and password, in the tenant (or platform plane) in context.

    Rules: the same email in two tenants is two accounts; unknown email, wrong password and
    a deactivated account answer the same 401 after the same work (a hash is verified
    every time); attempts are limited per IP and per account, and repeated failures lock
    the account for a while (429) until it expires or an admin clears it; with MFA on,
    the password only earns a short challenge token.
    """

    def __init__(
        self,
        accounts: Accounts,
        hasher: PasswordHasher,
        steps: SignInSteps,
        limiter: RateLimiter,
        policy: AuthPolicy,
    ) -> None:
        self._accounts = accounts
        self._hasher = hasher
        self._steps = steps
        self._limiter = limiter
        self._policy = policy

    async def execute(self, email: str, password: str) -> LoginResult:
        email = normalize_email(email)
        plane = current_tenant_or_none() or "platform"
        ip, _ = current_client()
        await enforce_rate(self._limiter, f"login:ip:{ip}", self._policy.login_rate_per_ip)
        await enforce_rate(
            self._limiter, f"login:acct:{plane}:{email}", self._policy.login_rate_per_account
        )
        failures_key = lockout_key(plane, email)
        await self._steps.locked_out(failures_key)
        user = await self._accounts.by_email(email)
        matches, new_hash = await self._hasher.verify(
            password, user.password_hash if user else None
        )
        if user is None or not matches or not user.is_active:
            await self._steps.refuse(failures_key, user, {"email": email}, BAD_CREDENTIALS)
        assert user.id is not None  # noqa: S101
        if new_hash:
            await self._accounts.update(user.id, {"password_hash": new_hash})
        return await self._steps.admit(user, failures_key)


class SignInSteps:
    """How every sign-in ends (password or one-time code), in either plane.

    Refused: the failure counts towards the account's lockout and is audited as
    `auth.login_failed`, and the caller gets 401 `detail`. Admitted: the lockout counter
    is cleared; with MFA on, only a short challenge token (finish at `/auth/mfa/verify`);
    else a new session, audited as `auth.login_succeeded`.
    """

    def __init__(
        self,
        tokens: TokenService,
        issuer: SessionIssuer,
        limiter: RateLimiter,
        auditor: Auditor,
        policy: AuthPolicy,
        sign_ins: SignInNotices,
    ) -> None:
        self._tokens = tokens
        self._issuer = issuer
        self._limiter = limiter
        self._auditor = auditor
        self._policy = policy
        self._sign_ins = sign_ins

    async def locked_out(self, failures_key: str) -> None:
        """`RateLimited` (429) while the account's failures are at the lockout threshold."""
        if await self._limiter.count(failures_key) >= self._policy.lockout_threshold:
            raise RateLimited(
                self._policy.lockout_seconds, "Too many failed sign-ins; try again later."
            )

    async def refuse(
        self, failures_key: str, user: User | None, changes: dict[str, object], detail: str
    ) -> NoReturn:
        await self._limiter.hit(
            failures_key, limit=1_000_000, window_seconds=self._policy.lockout_seconds
        )
        await self._auditor.record(
            "auth.login_failed", "user", user.id if user else None,
            actor_id=None, changes=changes,
        )  # fmt: skip
        raise Unauthorized(detail)

    async def admit(
        self, user: User, failures_key: str, changes: dict[str, object] | None = None
    ) -> LoginResult:
        assert user.id is not None  # noqa: S101
        await self._limiter.reset(failures_key)
        if user.mfa_enabled:
            challenge = self._tokens.issue_mfa_challenge(user_id=user.id, tenant_id=user.tenant_id)
            return LoginResult(mfa_token=challenge)
        tokens, session_id = await self._issuer.start(user)
        await self._auditor.record(
            "auth.login_succeeded", "session", session_id, actor_id=user.id, changes=changes
        )
        await self._sign_ins.after(user, session_id)
        return LoginResult(tokens=tokens)
