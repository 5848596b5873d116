"""Listing the tenant's users (search, filters, pages)."""

from __future__ import annotations

from api.domain.identity.auth import Principal
from api.domain.identity.users import UserPage, UserRepository
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission


class ListUsers:
    """A page of the tenant's users (`users:read`), oldest first.

    Rules: `query` matches the start of the email or of any word of the name, literally;
    `is_active` and `role_id` narrow the list; an unknown role id matches nobody.
    """

    def __init__(self, users: UserRepository) -> None:
        self._users = users

    async def execute(
        self,
        principal: Principal,
        *,
        query: str | None,
        is_active: bool | None,
        role_id: str | None,
        page: int,
        page_size: int,
    ) -> UserPage:
        require_permission(principal, Permission.USERS_READ)
        return await self._users.search(
            query=query,
            is_active=is_active,
            role_id=role_id,
            skip=(page - 1) * page_size,
            limit=page_size,
        )
