"""Listing the models a tenant's members may use."""

from __future__ import annotations

from api.domain.ai.values import ModelInfo
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.ai.model_access import ModelAccess
from api.usecases.kernel.authority import require_permission


class ListModels:
    """The models this tenant may use now, and its default one."""

    def __init__(self, access: ModelAccess) -> None:
        self._access = access

    async def execute(self, principal: Principal) -> tuple[list[ModelInfo], str | None]:
        """The models and the default one (None when no default is set)."""
        require_permission(principal, Permission.AI_USE)
        offered, tenant = await self._access.available()
        return offered, self._access.default_of(offered, tenant)
