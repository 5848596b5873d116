"""Listing the tenant's roles."""

from __future__ import annotations

from pydantic import BaseModel

from api.domain.identity.auth import Principal
from api.domain.identity.roles import Role, RoleRepository
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission


class RolePage(BaseModel):
    items: list[Role]
    total: int


class ListRoles:
    """A page of the tenant's roles (`roles:read`), by name."""

    def __init__(self, roles: RoleRepository) -> None:
        self._roles = roles

    async def execute(self, principal: Principal, *, page: int, page_size: int) -> RolePage:
        require_permission(principal, Permission.ROLES_READ)
        roles = await self._roles.all()
        start = (page - 1) * page_size
        return RolePage(items=roles[start : start + page_size], total=len(roles))
