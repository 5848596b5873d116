"""Reading one user of the tenant."""

from __future__ import annotations

from api.domain.errors import NotFound
from api.domain.identity.auth import Principal
from api.domain.identity.users import User, UserRepository
from api.domain.permissions import Permission
from api.usecases.kernel.accounts import USER_NOT_FOUND
from api.usecases.kernel.authority import require_permission


class GetUser:
    """One user of the tenant: with `users:read`, or the caller's own account."""

    def __init__(self, users: UserRepository) -> None:
        self._users = users

    async def execute(self, principal: Principal, user_id: str) -> User:
        if user_id != principal.user_id:
            require_permission(principal, Permission.USERS_READ)
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound(USER_NOT_FOUND)
        return user
