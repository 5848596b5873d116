"""Replacing a user's roles; the user's sessions end so the change applies at once."""

from __future__ import annotations

from api.domain.errors import Forbidden, NotFound
from api.domain.identity.auth import Principal
from api.domain.identity.users import User, UserRepository
from api.domain.permissions import Permission
from api.usecases.identity.rules import existing_user
from api.usecases.kernel.accounts import USER_NOT_FOUND
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import (
    Authority,
    SessionEnder,
    audit_extra,
    check_can_grant,
    check_may_manage,
    require_permission,
)


class SetUserRoles:
    """Replace a user's roles (`users:manage_roles`).

    Rules: nobody changes their own roles (403); every id is a role of this tenant (422);
    the actor holds every permission the user has now (403) and every permission the new
    roles grant, through inheritance (403); the tenant keeps an active owner (409). The
    user's sessions end so the change applies at once. Audited: `user.roles_changed` with
    the role ids before and after (nothing is written when nothing changes).
    """

    def __init__(
        self,
        users: UserRepository,
        authority: Authority,
        sessions: SessionEnder,
        auditor: Auditor,
    ) -> None:
        self._users = users
        self._authority = authority
        self._sessions = sessions
        self._auditor = auditor

    async def execute(self, principal: Principal, user_id: str, role_ids: list[str]) -> User:
        require_permission(principal, Permission.USERS_MANAGE_ROLES)
        if user_id == principal.user_id:
            raise Forbidden("You cannot change your own roles.")
        target = await existing_user(self._users, user_id)
        book = await self._authority.book()
        new_ids = book.known(role_ids, "role_ids")
        held = await self._authority.held_by(principal, book)
        check_may_manage(held, book.effective(target.role_ids), "user")
        check_can_grant(held, book.effective(new_ids))
        if set(new_ids) == set(target.role_ids):
            return target
        await self._authority.check_keeps_an_owner(
            target, stays_owner=book.holds_owner(new_ids), book=book
        )
        updated = await self._users.update(user_id, {"role_ids": new_ids})
        if updated is None:
            raise NotFound(USER_NOT_FOUND)
        await self._sessions.end([user_id])
        await self._auditor.record(
            "user.roles_changed", "user", user_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"role_ids": {"from": target.role_ids,
                                                         "to": new_ids}}),
        )  # fmt: skip
        return updated
