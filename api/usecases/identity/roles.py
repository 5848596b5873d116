"""The tenant's roles (named sets of permissions, with inheritance) and the catalog.

Rules shared by creating and editing a role: every permission is in the catalog (422
naming the unknown ones) and is a tenant permission (422 for platform ones); every
inherited role exists in this tenant (422); inheritance has no cycle (409); names are
unique in the tenant, whatever their case (409); the actor holds every permission the
role would grant, through inheritance (403). System roles (`owner`, `admin`, `member`)
cannot be changed or deleted (409).
"""

from __future__ import annotations

from pydantic import BaseModel

from api.domain.errors import Conflict, FieldProblem, Forbidden, InvalidInput, NotFound
from api.domain.identity.auth import Principal
from api.domain.identity.roles import Role, RoleRepository, check_no_cycle
from api.domain.identity.users import UserRepository
from api.domain.permissions import (
    CATALOG,
    PLATFORM_PERMISSIONS,
    CatalogEntry,
    Permission,
    unknown_permissions,
)
from api.domain.tenancy import current_tenant
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
from api.usecases.kernel.clock import stored_now

ROLE_NOT_FOUND = "No such role."
_AUDITED = ("name", "description", "permissions", "inherits")


class RolePage(BaseModel):
    items: list[Role]
    total: int


def check_permission_names(names: list[str]) -> list[str]:
    """The names, deduplicated and sorted; `InvalidInput` naming unknown or platform ones."""
    unique = sorted(set(names))
    problems = [
        FieldProblem(("permissions",), f"unknown permission '{n}'")
        for n in unknown_permissions(unique)
    ]
    problems += [
        FieldProblem(("permissions",), f"'{n}' is a platform permission: not for tenant roles")
        for n in unique
        if n in PLATFORM_PERMISSIONS
    ]
    if problems:
        raise InvalidInput("; ".join(p.msg for p in problems) + ".", problems)
    return unique


async def _role(roles: RoleRepository, role_id: str) -> Role:
    role = await roles.get(role_id)
    if role is None:
        raise NotFound(ROLE_NOT_FOUND)
    return role


class ListPermissions:
    """The tenant permissions of the catalog (never platform ones), for any signed-in user."""

    async def execute(self, principal: Principal) -> list[CatalogEntry]:
        current_tenant()  # a tenant's catalog: refused in the platform plane
        if principal.is_platform:
            raise Forbidden("This lists a tenant's permissions.")
        return [p for p in CATALOG if not p.platform]


class ListRoles:
    """A page of the tenant's roles (`roles:read`), by name."""

    def __init__(self, roles: RoleRepository) -> None:
        self._roles = roles

    async def execute(self, principal: Principal, *, page: int, page_size: int) -> RolePage:
        require_permission(principal, Permission.ROLES_READ)
        roles = await self._roles.all()
        start = (page - 1) * page_size
        return RolePage(items=roles[start : start + page_size], total=len(roles))


class GetRole:
    """One role of the tenant (`roles:read`)."""

    def __init__(self, roles: RoleRepository) -> None:
        self._roles = roles

    async def execute(self, principal: Principal, role_id: str) -> Role:
        require_permission(principal, Permission.ROLES_READ)
        return await _role(self._roles, role_id)


class CreateRole:
    """Create a role (`roles:write`); the module's rules apply. Audited: `role.created`."""

    def __init__(self, roles: RoleRepository, authority: Authority, auditor: Auditor) -> None:
        self._roles = roles
        self._authority = authority
        self._auditor = auditor

    async def execute(
        self,
        principal: Principal,
        *,
        name: str,
        description: str,
        permissions: list[str],
        inherits: list[str],
    ) -> Role:
        require_permission(principal, Permission.ROLES_WRITE)
        permissions = check_permission_names(permissions)
        book = await self._authority.book()
        inherits = book.known(inherits, "inherits")
        held = await self._authority.held_by(principal, book)
        check_can_grant(held, set(permissions) | book.effective(inherits))
        if await self._roles.get_by_name(name) is not None:
            raise Conflict("A role with this name already exists.")
        now = stored_now()
        role = await self._roles.add(
            Role(
                tenant_id=current_tenant(),
                name=name,
                description=description,
                permissions=permissions,
                inherits=inherits,
                created_at=now,
                updated_at=now,
            )
        )
        await self._auditor.record(
            "role.created", "role", role.id, actor_id=principal.user_id,
            changes=audit_extra(principal, role.model_dump(include=set(_AUDITED))),
        )  # fmt: skip
        return role


class UpdateRole:
    """Edit a role (`roles:write`); fields left out keep their values.

    Rules: the module's rules apply; the actor must also hold every permission the role
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
    ) -> Role:
        require_permission(principal, Permission.ROLES_WRITE)
        role = await _role(self._roles, role_id)
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
        after = role.model_copy(update=changes)
        after_book = book.with_role(after)
        held = await self._authority.held_by(principal, book)
        check_may_manage(held, book.effective([role_id]), "role")
        check_can_grant(held, after_book.effective([role_id]))
        changed = diff(
            role.model_dump(include=set(_AUDITED)), after.model_dump(include=set(_AUDITED))
        )
        if not changed:
            return role
        updated = await self._roles.update(role_id, {k: changes[k] for k in changed})
        if updated is None:
            raise NotFound(ROLE_NOT_FOUND)
        weakened = weakened_roles(book, after_book)
        if weakened:
            await self._sessions.end(await self._authority.holders(weakened))
        await self._auditor.record(
            "role.updated", "role", role_id, actor_id=principal.user_id,
            changes=audit_extra(principal, changed),
        )  # fmt: skip
        return updated


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
        role = await _role(self._roles, role_id)
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
