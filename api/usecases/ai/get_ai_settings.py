"""Reading a tenant's AI settings."""

from __future__ import annotations

from api.domain.ai.entities import AiTenantSettings
from api.domain.ai.ports import AiSettingsRepository
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission


class GetAiSettings:
    """The tenant's AI settings (the defaults when it never saved any)."""

    def __init__(self, settings: AiSettingsRepository) -> None:
        self._settings = settings

    async def execute(self, principal: Principal) -> AiTenantSettings:
        require_permission(principal, Permission.AI_MANAGE)
        return await self._settings.get()
