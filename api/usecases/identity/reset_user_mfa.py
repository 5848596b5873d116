"""An administrator turning off a user's two-factor sign-in: the way back for a user who
lost their authenticator and their recovery codes."""

from __future__ import annotations

from api.domain.errors import Conflict, Forbidden, NotFound
from api.domain.identity.auth import Principal
from api.domain.identity.users import UserRepository
from api.domain.permissions import Permission
from api.usecases.identity.mfa_codes import mfa_off
from api.usecases.identity.rules import existing_user
from api.usecases.identity.security_notices import SecurityChange, SecurityNotices
from api.usecases.kernel.accounts import USER_NOT_FOUND
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import (
    Authority,
    SessionEnder,
    audit_extra,
    check_may_manage,
    require_permission,
)


class ResetUserMfa:
    """Turn off another user's two-factor sign-in (`users:activate`).

    Rules: not yourself (403: turn your own off with a current code); not a user holding
    permissions you do not (403); the user's MFA must be on (409). The seed and the
    recovery codes are erased and
    the user's sessions end, so they sign in again with their password and can set MFA up
    anew. Audited: `user.mfa_reset`.
    """

    def __init__(
        self,
        users: UserRepository,
        authority: Authority,
        sessions: SessionEnder,
        auditor: Auditor,
        notices: SecurityNotices,
    ) -> None:
        self._users = users
        self._authority = authority
        self._sessions = sessions
        self._auditor = auditor
        self._notices = notices

    async def execute(self, principal: Principal, user_id: str) -> None:
        require_permission(principal, Permission.USERS_ACTIVATE)
        if user_id == principal.user_id:
            raise Forbidden("Turn your own two-factor sign-in off with a current code.")
        target = await existing_user(self._users, user_id)
        book = await self._authority.book()
        held = await self._authority.held_by(principal, book)
        check_may_manage(held, book.effective(target.role_ids), "user")
        if not target.mfa_enabled:
            raise Conflict("This user's two-factor sign-in is not on.")
        updated = await self._users.update(user_id, mfa_off())
        if updated is None:
            raise NotFound(USER_NOT_FOUND)
        await self._sessions.end([user_id])
        await self._auditor.record(
            "user.mfa_reset", "user", user_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"mfa_enabled": {"from": True, "to": False}}),
        )  # fmt: skip
        await self._notices.send(updated, SecurityChange.MFA_RESET)
