"""Refresh-token rotation, with reuse detection."""

from __future__ import annotations

from api.common.request_context import current_client
from api.domain.errors import Unauthorized
from api.domain.identity.auth import (
    AuthPolicy,
    RateLimiter,
    Revocations,
    RotateOutcome,
    SessionStore,
    TokenPair,
    TokenService,
)
from api.domain.tenancy import current_tenant_or_none
from api.usecases.kernel.accounts import Accounts
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.rate_limits import enforce_rate
from api.usecases.kernel.sessions import SessionIssuer


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
