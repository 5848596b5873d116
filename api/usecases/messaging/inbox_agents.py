"""Who counts as an inbox agent: an active user of the tenant whose roles, right now,
grant `ASSIGNABLE`, `inbox:write` (acting on conversations: the `agent` system role,
owners and admins have it). Presence is
listed for them and auto-assignment chooses among them (when they are online)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from api.domain.identity.roles import RoleRepository
from api.domain.identity.users import User, UserRepository
from api.domain.permissions import Permission
from api.usecases.kernel.authority import RoleBook

# The permission that makes a user an agent who may be given conversations.
ASSIGNABLE = Permission.INBOX_WRITE
_PAGE = 200


@dataclass(frozen=True)
class PresencePolicy:
    """The deployment's presence rule: an online/away presence lasts `ttl_seconds` unless
    refreshed."""

    ttl_seconds: int


class AgentRoster:
    """Reads the tenant's agents (current tenant)."""

    def __init__(self, users: UserRepository, roles: RoleRepository) -> None:
        self._users = users
        self._roles = roles

    async def all(self) -> list[User]:
        """Every active agent, by id."""
        book = RoleBook(await self._roles.all())
        granting = [r for r in book.roles if ASSIGNABLE in book.effective([r])]
        found: dict[str, User] = {}
        for role_id in granting:
            skip = 0
            while True:
                page = await self._users.search(
                    query=None, is_active=True, role_id=role_id, skip=skip, limit=_PAGE
                )
                found.update({u.id: u for u in page.items if u.id})
                skip += len(page.items)
                if not page.items or skip >= page.total:
                    break
        return [found[k] for k in sorted(found)]

    async def among(self, user_ids: Iterable[str]) -> list[str]:
        """Those of `user_ids` who are active agents now, by id."""
        ids = sorted(set(user_ids))
        if not ids:
            return []
        book = RoleBook(await self._roles.all())
        able: list[str] = []
        for user_id in ids:
            user = await self._users.get(user_id)
            if user is not None and user.is_active and ASSIGNABLE in book.effective(user.role_ids):
                able.append(user_id)
        return able
