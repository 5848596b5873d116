"""Deleting a user of the tenant."""

from __future__ import annotations

from api.domain.errors import Conflict, NotFound
from api.domain.identity.auth import Principal
from api.domain.identity.users import User, UserRepository
from api.domain.permissions import Permission
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


class DeleteUser:
    """Delete a user (`users:delete`) and end their sessions at once.

    Rules: not yourself (409: see `DeleteOwnAccount`); not a user holding permissions you
    do not (403); not the tenant's last active owner (409). Audited: `user.deleted`.
    Returns the deleted user (the route removes their avatar).
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

    async def execute(self, principal: Principal, user_id: str) -> User:
        require_permission(principal, Permission.USERS_DELETE)
        if user_id == principal.user_id:
            raise Conflict("You cannot delete your own account here.")
        target = await self._users.get(user_id)
        if target is None:
            raise NotFound(USER_NOT_FOUND)
        book = await self._authority.book()
        held = await self._authority.held_by(principal, book)
        check_may_manage(held, book.effective(target.role_ids), "user")
        await self._authority.check_keeps_an_owner(target, stays_owner=False, book=book)
        if not await self._users.delete(user_id):
            raise NotFound(USER_NOT_FOUND)
        await self._sessions.end([user_id])
        await self._auditor.record(
            "user.deleted", "user", user_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"email": target.email,
                                            "full_name": target.full_name}),
        )  # fmt: skip
        await self._notices.send(
            target, SecurityChange.ACCOUNT_DELETED, detail="An administrator deleted it."
        )
        return target
