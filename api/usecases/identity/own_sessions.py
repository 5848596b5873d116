"""The caller's own sessions: seen, and ended one by one or all but this one (ASVS 3.3.4)."""

from __future__ import annotations

from api.domain.errors import NotFound
from api.domain.identity.auth import Principal, Revocations, Session, SessionStore
from api.usecases.identity.reauthenticate import Reauthenticate, Refusals
from api.usecases.kernel.auditor import Auditor

SESSION_NOT_FOUND = "No such session."
END_REFUSALS = Refusals(
    impersonating="Sessions cannot be ended while impersonating.",
    wrong_password="The password is not correct.",  # noqa: S106 - a message
    failed_action="auth.sessions_end_refused",
)


class ListOwnSessions:
    """The caller's live sessions (every sign-in not yet ended or expired), newest first:
    where each started (IP, user agent), when, when it was last refreshed, whether it is
    the caller's own and whether an admin's impersonation. Either plane."""

    def __init__(self, sessions: SessionStore) -> None:
        self._sessions = sessions

    async def execute(self, principal: Principal) -> list[Session]:
        return await self._sessions.live(principal.tenant_id, principal.user_id)


class EndOwnSessions:
    """End one of the caller's sessions, or every one but the caller's own.

    Rules: the password again (401; attempts share the password change's budget: 429), not
    while impersonating (403); a session that is not the caller's live one is 404 (another
    user's, another tenant's, ended or unknown: never told apart). Ended sessions' refresh
    tokens stop at once and their access tokens are refused on every replica (the Redis
    denylist). Audited: `auth.sessions_ended` with how many.
    """

    def __init__(
        self,
        sessions: SessionStore,
        revocations: Revocations,
        reauthenticate: Reauthenticate,
        auditor: Auditor,
    ) -> None:
        self._sessions = sessions
        self._revocations = revocations
        self._reauthenticate = reauthenticate
        self._auditor = auditor

    async def execute(self, principal: Principal, password: str, session_id: str | None) -> int:
        """End `session_id`, or (None) every session but the caller's; how many ended."""
        user = await self._reauthenticate.user(principal, password, END_REFUSALS)
        live = await self._sessions.live(principal.tenant_id, principal.user_id)
        if session_id is None:
            ending = [s.id for s in live if s.id != principal.session_id]
        else:
            if session_id not in {s.id for s in live}:
                raise NotFound(SESSION_NOT_FOUND)
            ending = [session_id]
        await self._sessions.revoke_many(principal.tenant_id, principal.user_id, ending)
        if ending:
            await self._revocations.revoke_sessions(ending)
        await self._auditor.record(
            "auth.sessions_ended", "user", user.id, actor_id=user.id,
            changes={"sessions_ended": len(ending), "own_kept": session_id is None},
        )  # fmt: skip
        return len(ending)
