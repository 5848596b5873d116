"""Reading one role of the tenant."""

from __future__ import annotations

from api.domain.identity.auth import Principal
from api.domain.identity.roles import Role, RoleRepository
from api.domain.permissions import Permission
from api.usecases.identity.rules import existing_role
from api.usecases.kernel.authority import require_permission


class GetRole:
    """One role of the tenant (`roles:read`)."""

    def __init__(self, roles: RoleRepository) -> None:
        self._roles = roles

    async def execute(self, principal: Principal, role_id: str) -> Role:
        require_permission(principal, Permission.ROLES_READ)
        return await existing_role(self._roles, role_id)
