"""Signing out: the caller's session ends."""

from __future__ import annotations

from api.domain.identity.auth import Principal, Revocations, SessionStore
from api.usecases.kernel.auditor import Auditor


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
