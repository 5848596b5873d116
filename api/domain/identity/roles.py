"""Roles: named sets of permissions, per tenant, with inheritance (no cycles)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, Field

from api.domain.errors import Conflict


class Role(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=500)
    permissions: list[str] = Field(default_factory=list)
    inherits: list[str] = Field(default_factory=list)
    # Limited to its holders' departments: see `api.domain.departments` and `departments_only`.
    departments_only: bool = False
    system: bool = False
    created_at: datetime
    updated_at: datetime


def effective_permissions(role_ids: Iterable[str], roles: Mapping[str, Role]) -> set[str]:
    """Every permission the roles grant, through inheritance; unknown ids are ignored."""
    granted: set[str] = set()
    seen: set[str] = set()
    stack = list(role_ids)
    while stack:
        role_id = stack.pop()
        if role_id in seen or role_id not in roles:
            continue
        seen.add(role_id)
        role = roles[role_id]
        granted.update(role.permissions)
        stack.extend(role.inherits)
    return granted


def departments_only(role_ids: Iterable[str], roles: Mapping[str, Role]) -> bool:
    """Whether a holder of `role_ids` is limited to their departments: when they hold at
    least one role and every role they hold (directly) is `departments_only`. One unlimited
    role lifts the limit, as grants add up. Unknown ids are ignored."""
    held = [roles[r] for r in role_ids if r in roles]
    return bool(held) and all(role.departments_only for role in held)


def check_no_cycle(role_id: str, inherits: Iterable[str], roles: Mapping[str, Role]) -> None:
    """Raises `Conflict` when `role_id` inheriting `inherits` would close a cycle."""
    stack = list(inherits)
    seen: set[str] = set()
    while stack:
        current = stack.pop()
        if current == role_id:
            raise Conflict("Role inheritance would form a cycle.")
        if current in seen or current not in roles:
            continue
        seen.add(current)
        stack.extend(roles[current].inherits)


class RoleRepository(Protocol):
    """Roles of the current tenant (scoped by the context)."""

    async def add(self, role: Role) -> Role:
        """Store a new role; `Conflict` when the name exists in this tenant."""
        ...

    async def get(self, role_id: str) -> Role | None: ...

    async def get_by_name(self, name: str) -> Role | None: ...

    async def all(self) -> list[Role]: ...

    async def update(self, role_id: str, changes: dict[str, object]) -> Role | None: ...

    async def delete(self, role_id: str) -> bool: ...
