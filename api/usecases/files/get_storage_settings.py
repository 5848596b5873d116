"""Reading the tenant's storage settings (secrets never shown)."""

from __future__ import annotations

from api.domain.files.storage import BlobStorageFactory, StorageConfigRepository
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.files.rules import StoragePolicy
from api.usecases.files.settings_view import StorageSettingsView, settings_view
from api.usecases.kernel.authority import require_permission


class GetStorageSettings:
    """The tenant's current storage settings (`storage:manage`), secrets never shown.

    Rules: a tenant that chose nothing shows the deployment default (`is_default`), without
    the deployment's own bucket, container or endpoint.
    """

    def __init__(
        self, factory: BlobStorageFactory, configs: StorageConfigRepository, policy: StoragePolicy
    ) -> None:
        self._factory = factory
        self._configs = configs
        self._policy = policy

    async def execute(self, principal: Principal) -> StorageSettingsView:
        require_permission(principal, Permission.STORAGE_MANAGE)
        config = await self._configs.current() or self._factory.default_config()
        return settings_view(config, self._policy)
