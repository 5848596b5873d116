"""Users as clients see them: with their roles named (identity and files both show users)."""

from __future__ import annotations

import time

from pydantic import BaseModel

from api.domain.identity.roles import RoleRepository
from api.domain.identity.users import User

ROLE_NAMES_TTL_SECONDS = 2.0


class UserView(BaseModel):
    """A user as clients see it: roles named, no secrets."""

    user: User
    roles: list[tuple[str, str]]  # (id, name)


class DescribeUsers:
    """Attach role names to users.

    Presentation only (no decision reads these names), so the tenant's role names are kept
    for `ROLE_NAMES_TTL_SECONDS`: a busy read path then skips the roles query; a renamed role
    shows its new name within two seconds.
    """

    def __init__(self, roles: RoleRepository) -> None:
        self._roles = roles
        self._names: dict[str, tuple[float, dict[str, str]]] = {}

    async def execute(self, users: list[User]) -> list[UserView]:
        names: dict[str, str] = {}
        tenant_id = next((u.tenant_id for u in users if u.tenant_id), None)
        if tenant_id is not None:
            names = await self._role_names(tenant_id)
        return [
            UserView(user=u, roles=[(r, names[r]) for r in u.role_ids if r in names]) for u in users
        ]

    async def _role_names(self, tenant_id: str) -> dict[str, str]:
        now = time.monotonic()
        cached = self._names.get(tenant_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        names = {role.id: role.name for role in await self._roles.all() if role.id}
        if len(self._names) > 10_000:
            self._names.clear()
        self._names[tenant_id] = (now + ROLE_NAMES_TTL_SECONDS, names)
        return names
