"""Signing in and out: login (with MFA), refresh rotation, logout, who am I."""

from __future__ import annotations

from pydantic import BaseModel

from api.common.request_context import current_client
from api.domain.errors import RateLimited, Unauthorized
from api.domain.identity.auth import (
    AuthPolicy,
    PasswordHasher,
    Principal,
    RateLimiter,
    Revocations,
    RotateOutcome,
    SessionStore,
    TokenPair,
    TokenService,
)
from api.domain.identity.users import User, normalize_email
from api.domain.tenancy import current_tenant_or_none
from api.usecases.identity.mfa import MfaCodes
from api.usecases.kernel.accounts import Accounts, SessionIssuer, enforce_rate, lockout_key
from api.usecases.kernel.auditor import Auditor

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
        tokens: TokenService,
        issuer: SessionIssuer,
        limiter: RateLimiter,
        auditor: Auditor,
        policy: AuthPolicy,
    ) -> None:
        self._accounts = accounts
        self._hasher = hasher
        self._tokens = tokens
        self._issuer = issuer
        self._limiter = limiter
        self._auditor = auditor
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
        if await self._limiter.count(failures_key) >= self._policy.lockout_threshold:
            raise RateLimited(
                self._policy.lockout_seconds, "Too many failed sign-ins; try again later."
            )
        user = await self._accounts.by_email(email)
        matches, new_hash = await self._hasher.verify(
            password, user.password_hash if user else None
        )
        if user is None or not matches or not user.is_active:
            await self._limiter.hit(
                failures_key, limit=1_000_000, window_seconds=self._policy.lockout_seconds
            )
            await self._auditor.record(
                "auth.login_failed", "user", user.id if user else None,
                actor_id=None, changes={"email": email},
            )  # fmt: skip
            raise Unauthorized(BAD_CREDENTIALS)
        assert user.id is not None  # noqa: S101
        await self._limiter.reset(failures_key)
        if new_hash:
            await self._accounts.update(user.id, {"password_hash": new_hash})
        if user.mfa_enabled:
            challenge = self._tokens.issue_mfa_challenge(user_id=user.id, tenant_id=user.tenant_id)
            return LoginResult(mfa_token=challenge)
        tokens, session_id = await self._issuer.start(user)
        await self._auditor.record("auth.login_succeeded", "session", session_id, actor_id=user.id)
        return LoginResult(tokens=tokens)


class VerifyMfaLogin:
    """Second step of an MFA sign-in: the challenge token and a TOTP code earn the tokens.

    Rules: the challenge is only valid in the plane it was issued in; guesses are limited
    per user; a code already accepted is refused for the rest of its window (no replay).
    """

    def __init__(
        self,
        accounts: Accounts,
        tokens: TokenService,
        codes: MfaCodes,
        issuer: SessionIssuer,
        auditor: Auditor,
    ) -> None:
        self._accounts = accounts
        self._tokens = tokens
        self._codes = codes
        self._issuer = issuer
        self._auditor = auditor

    async def execute(self, mfa_token: str, code: str) -> TokenPair:
        user_id, tenant_id = self._tokens.decode_mfa_challenge(mfa_token)
        if tenant_id != current_tenant_or_none():
            raise Unauthorized("This challenge is not valid here.")
        user = await self._accounts.by_id(user_id)
        if user is None or not user.is_active or not user.mfa_enabled or not user.mfa_secret:
            raise Unauthorized("Invalid or expired token.")
        await self._codes.check(user, code)
        tokens, session_id = await self._issuer.start(user)
        await self._auditor.record("auth.login_succeeded", "session", session_id, actor_id=user_id)
        return tokens


class RefreshTokens:
    """Trade a refresh token for a new pair; the presented one is spent.

    Rules: exactly one of concurrent refreshes of a token wins; a token spent moments ago by
    a concurrent refresh is refused without harm; a token spent earlier is a stolen one:
    the whole session ends (and its access tokens with it) and the event is audited; a
    session is only refreshed in its own tenant, for an active user, with permissions
    read afresh.
    """

    def __init__(
        self,
        accounts: Accounts,
        tokens: TokenService,
        sessions: SessionStore,
        revocations: Revocations,
        issuer: SessionIssuer,
        limiter: RateLimiter,
        auditor: Auditor,
        policy: AuthPolicy,
    ) -> None:
        self._accounts = accounts
        self._tokens = tokens
        self._sessions = sessions
        self._revocations = revocations
        self._issuer = issuer
        self._limiter = limiter
        self._auditor = auditor
        self._policy = policy

    async def execute(self, refresh_token: str) -> TokenPair:
        ip, _ = current_client()
        await enforce_rate(
            self._limiter, f"refresh:ip:{ip}", self._policy.sensitive_rate_per_ip * 6
        )
        parts = self._tokens.refresh_token_parts(refresh_token)
        if parts is None:
            raise Unauthorized("Invalid refresh token.")
        session_id, presented = parts
        new_token, new_hash = self._tokens.new_refresh_token(session_id)
        rotation = await self._sessions.rotate(session_id, presented, new_hash)
        session = rotation.session
        if rotation.outcome is RotateOutcome.REUSED and session is not None:
            await self._revocations.revoke_sessions([session_id])
            await self._auditor.record(
                "auth.refresh_reused", "session", session_id,
                actor_id=session.user_id, tenant_id=session.tenant_id,
            )  # fmt: skip
            raise Unauthorized("This refresh token was already used; the session has ended.")
        if rotation.outcome is not RotateOutcome.ROTATED or session is None:
            raise Unauthorized("Invalid refresh token.")
        user = await self._accounts.by_id(session.user_id)
        if session.tenant_id != current_tenant_or_none() or user is None or not user.is_active:
            await self._sessions.revoke(session_id)
            await self._revocations.revoke_sessions([session_id])
            raise Unauthorized("Invalid refresh token.")
        return await self._issuer.tokens_for(user, session_id, new_token, actor_id=session.actor_id)


class Logout:
    """End the caller's session: its refresh tokens and access tokens stop working at once."""

    def __init__(self, sessions: SessionStore, revocations: Revocations, auditor: Auditor) -> None:
        self._sessions = sessions
        self._revocations = revocations
        self._auditor = auditor

    async def execute(self, principal: Principal) -> None:
        await self._sessions.revoke(principal.session_id)
        await self._revocations.revoke_sessions([principal.session_id])
        await self._auditor.record(
            "auth.logout", "session", principal.session_id, actor_id=principal.user_id
        )


class Authenticate:
    """Turn a bearer token into the request's `Principal`.

    Rules: the token must verify (signature, algorithm, expiry, audience, issuer); its
    tenant must be the request's tenant (a token of tenant A is refused with tenant B, and a
    platform token is refused inside any tenant); a token whose session or user was
    revoked is refused before it expires; when revocation cannot be checked (Redis down)
    the request is refused with 503 rather than trusted.
    """

    def __init__(self, tokens: TokenService, revocations: Revocations) -> None:
        self._tokens = tokens
        self._revocations = revocations

    async def execute(self, bearer: str) -> Principal:
        claims = self._tokens.decode_access(bearer)
        if claims.tenant_id != current_tenant_or_none():
            raise Unauthorized("This token is not valid for this tenant.")
        if await self._revocations.is_revoked(claims):
            raise Unauthorized("This token has been revoked.")
        return Principal(
            user_id=claims.user_id,
            tenant_id=claims.tenant_id,
            session_id=claims.session_id,
            token_id=claims.token_id,
            permissions=claims.permissions,
            issued_at=claims.issued_at,
            expires_at=claims.expires_at,
            actor_id=claims.actor_id,
        )


class CurrentUser(BaseModel):
    user: User
    permissions: list[str]


class GetMe:
    """The caller's account, with effective permissions."""

    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts

    async def execute(self, principal: Principal) -> CurrentUser:
        user = await self._accounts.by_id(principal.user_id)
        if user is None:
            raise Unauthorized("The account no longer exists.")
        return CurrentUser(user=user, permissions=sorted(principal.permissions))
