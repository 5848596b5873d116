"""Deleting a role; its holders lose it and their sessions end."""

from __future__ import annotations

from api.domain.errors import Conflict, NotFound
from api.domain.identity.auth import Principal
from api.domain.identity.roles import RoleRepository
from api.domain.identity.users import UserRepository
from api.domain.permissions import Permission
from api.usecases.identity.rules import ROLE_NOT_FOUND, existing_role
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import (
    Authority,
    SessionEnder,
    audit_extra,
    check_may_manage,
    require_permission,
)


class DeleteRole:
    """Delete a role (`roles:delete`).

    Rules: system roles cannot be deleted (409); nor a role another role inherits (409);
    the actor must hold every permission the role grants (403). Users holding it lose it
    and their sessions end at once. Audited: `role.deleted`.
    """

    def __init__(
        self,
        roles: RoleRepository,
        users: UserRepository,
        authority: Authority,
        sessions: SessionEnder,
        auditor: Auditor,
    ) -> None:
        self._roles = roles
        self._users = users
        self._authority = authority
        self._sessions = sessions
        self._auditor = auditor

    async def execute(self, principal: Principal, role_id: str) -> None:
        require_permission(principal, Permission.ROLES_DELETE)
        role = await existing_role(self._roles, role_id)
        if role.system:
            raise Conflict(f"The system role '{role.name}' cannot be deleted.")
        book = await self._authority.book()
        inheritors = book.inheritors(role_id)
        if inheritors:
            names = ", ".join(sorted(r.name for r in inheritors))
            raise Conflict(f"The role is inherited by other roles ({names}); change them first.")
        held = await self._authority.held_by(principal, book)
        check_may_manage(held, book.effective([role_id]), "role")
        if not await self._roles.delete(role_id):
            raise NotFound(ROLE_NOT_FOUND)
        # After the role is gone: a user's stale id for it grants nothing meanwhile.
        holders = await self._users.remove_role_everywhere(role_id)
        await self._sessions.end(holders)
        await self._auditor.record(
            "role.deleted", "role", role_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"name": role.name, "users_affected": len(holders)}),
        )  # fmt: skip
