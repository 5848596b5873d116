"""The storage providers this deployment offers."""

from __future__ import annotations

from api.domain.files.storage import BlobStorageFactory, StorageProvider
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission


class ListStorageProviders:
    """The providers this deployment offers, and whether each is configured (`storage:manage`)."""

    def __init__(self, factory: BlobStorageFactory) -> None:
        self._factory = factory

    async def execute(self, principal: Principal) -> list[tuple[StorageProvider, bool]]:
        require_permission(principal, Permission.STORAGE_MANAGE)
        return self._factory.available()
