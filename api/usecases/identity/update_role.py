"""Editing a role; users who lose a permission through it have their sessions ended."""

from __future__ import annotations

from api.domain.errors import Conflict, NotFound
from api.domain.identity.auth import Principal
from api.domain.identity.roles import Role, RoleRepository, check_no_cycle
from api.domain.permissions import Permission
from api.usecases.identity.rules import (
    AUDITED_ROLE_FIELDS,
    ROLE_NOT_FOUND,
    check_permission_names,
    existing_role,
)
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.kernel.authority import (
    Authority,
    SessionEnder,
    audit_extra,
    check_can_grant,
    check_may_manage,
    dedupe,
    require_permission,
    weakened_roles,
)


class UpdateRole:
    """Edit a role (`roles:write`); fields left out keep their values.

    Rules: those of `CreateRole`; the actor must also hold every permission the role
    grants now (403); system roles cannot be changed (409). Users who lose a permission
    through this change (holders of this role or of a role inheriting it) have their
    sessions ended, so it applies at once. Audited: `role.updated` with the changed fields.
    """

    def __init__(
        self,
        roles: RoleRepository,
        authority: Authority,
        sessions: SessionEnder,
        auditor: Auditor,
    ) -> None:
        self._roles = roles
        self._authority = authority
        self._sessions = sessions
        self._auditor = auditor

    async def execute(
        self,
        principal: Principal,
        role_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        permissions: list[str] | None = None,
        inherits: list[str] | None = None,
        departments_only: bool | None = None,
    ) -> Role:
        require_permission(principal, Permission.ROLES_WRITE)
        role = await existing_role(self._roles, role_id)
        if role.system:
            raise Conflict(f"The system role '{role.name}' cannot be changed.")
        book = await self._authority.book()
        changes: dict[str, object] = {}
        if name is not None and name != role.name:
            changes["name"] = name
        if description is not None and description != role.description:
            changes["description"] = description
        if permissions is not None:
            changes["permissions"] = check_permission_names(permissions)
        if inherits is not None:
            changes["inherits"] = book.known(inherits, "inherits")
            check_no_cycle(role_id, dedupe(inherits), book.roles)
        if departments_only is not None and departments_only != role.departments_only:
            changes["departments_only"] = departments_only
        after = role.model_copy(update=changes)
        after_book = book.with_role(after)
        held = await self._authority.held_by(principal, book)
        check_may_manage(held, book.effective([role_id]), "role")
        check_can_grant(held, after_book.effective([role_id]))
        changed = diff(
            role.model_dump(include=set(AUDITED_ROLE_FIELDS)),
            after.model_dump(include=set(AUDITED_ROLE_FIELDS)),
        )
        if not changed:
            return role
        updated = await self._roles.update(role_id, {k: changes[k] for k in changed})
        if updated is None:
            raise NotFound(ROLE_NOT_FOUND)
        weakened = weakened_roles(book, after_book)
        if after.departments_only and not role.departments_only:
            weakened = [*weakened, role_id]  # its holders' tokens must say they are limited
        if weakened:
            await self._sessions.end(await self._authority.holders(weakened))
        await self._auditor.record(
            "role.updated", "role", role_id, actor_id=principal.user_id,
            changes=audit_extra(principal, changed),
        )  # fmt: skip
        return updated
