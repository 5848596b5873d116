"""Finding the users of the plane in context: a tenant's users, or the platform admins."""

from __future__ import annotations

from api.domain.identity.users import PlatformUserRepository, User, UserRepository
from api.domain.tenancy import current_tenant_or_none

USER_NOT_FOUND = "No such user."


class Accounts:
    """Users of the plane in context: the current tenant's, or platform admins."""

    def __init__(self, users: UserRepository, platform_users: PlatformUserRepository) -> None:
        self._users = users
        self._platform = platform_users

    async def by_email(self, email: str) -> User | None:
        if current_tenant_or_none() is None:
            return await self._platform.get_by_email(email)
        return await self._users.get_by_email(email)

    async def by_id(self, user_id: str) -> User | None:
        if current_tenant_or_none() is None:
            return await self._platform.get(user_id)
        return await self._users.get(user_id)

    async def update(self, user_id: str, changes: dict[str, object]) -> User | None:
        if current_tenant_or_none() is None:
            return await self._platform.update(user_id, changes)
        return await self._users.update(user_id, changes)

    async def spend_recovery_code(self, user_id: str, digest: str) -> User | None:
        if current_tenant_or_none() is None:
            return await self._platform.spend_recovery_code(user_id, digest)
        return await self._users.spend_recovery_code(user_id, digest)
