"""What follows a credential change (password reset or change, email verification).

Every successful password change ends *all* of the account's sessions, the caller's own
included: refresh tokens are spent and access tokens refused at once, and the client
signs in again with the new password."""

from __future__ import annotations

from api.domain.identity.auth import RateLimiter, Revocations, SessionStore
from api.domain.identity.users import User
from api.usecases.identity.rules import lockout_key


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
