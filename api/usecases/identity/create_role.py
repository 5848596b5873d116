"""Creating a role (a named set of permissions, with inheritance)."""

from __future__ import annotations

from api.domain.errors import Conflict
from api.domain.identity.auth import Principal
from api.domain.identity.roles import Role, RoleRepository
from api.domain.permissions import Permission
from api.domain.tenancy import current_tenant
from api.usecases.identity.rules import AUDITED_ROLE_FIELDS, check_permission_names
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import (
    Authority,
    audit_extra,
    check_can_grant,
    require_permission,
)
from api.usecases.kernel.clock import stored_now


class CreateRole:
    """Create a role (`roles:write`).

    Rules (shared with `UpdateRole`): every permission is in the catalog (422 naming the
    unknown ones) and is a tenant permission (422 for platform ones); every inherited role
    exists in this tenant (422); inheritance has no cycle (409); names are unique in the
    tenant, whatever their case (409); the actor holds every permission the role would
    grant, through inheritance (403). Audited: `role.created`.
    """

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
        departments_only: bool = False,
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
                departments_only=departments_only,
                created_at=now,
                updated_at=now,
            )
        )
        await self._auditor.record(
            "role.created", "role", role.id, actor_id=principal.user_id,
            changes=audit_extra(principal, role.model_dump(include=set(AUDITED_ROLE_FIELDS))),
        )  # fmt: skip
        return role
