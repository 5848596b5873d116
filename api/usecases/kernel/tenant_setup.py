"""A tenant's system roles, created idempotently (tenant onboarding and sign-up share it)."""

from __future__ import annotations

from api.common.clock import utcnow
from api.domain.errors import Conflict
from api.domain.identity.roles import Role, RoleRepository
from api.domain.permissions import SYSTEM_ROLES
from api.domain.tenancy import TenantId, tenant_context


class EnsureTenantSetup:
    """Give a tenant its system roles (`owner`, `admin`, `member`, `agent`); safe to run again."""

    def __init__(self, roles: RoleRepository) -> None:
        self._roles = roles

    async def execute(self, tenant_id: str) -> dict[str, Role]:
        created: dict[str, Role] = {}
        with tenant_context(TenantId(tenant_id)):
            for name, (description, permissions) in SYSTEM_ROLES.items():
                role = await self._roles.get_by_name(name)
                if role is None:
                    now = utcnow()
                    try:
                        role = await self._roles.add(
                            Role(
                                name=name,
                                description=description,
                                permissions=sorted(permissions),
                                system=True,
                                created_at=now,
                                updated_at=now,
                            )
                        )
                    except Conflict:
                        role = await self._roles.get_by_name(name)
                        assert role is not None  # noqa: S101 - the other writer created it
                created[name] = role
        return created
