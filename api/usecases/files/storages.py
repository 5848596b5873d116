"""Where the tenant's files are stored: the provider for new files, and for an old one.

Every change of settings is a new immutable `StorageConfig` version; files remember the
version they were written with (`StoredFile.config_id`), so `Storages.for_file` finds an
old file's provider after the tenant switched."""

from __future__ import annotations

from api.domain.errors import NotFound
from api.domain.files.storage import (
    DEFAULT_CONFIG_ID,
    BlobStorage,
    BlobStorageFactory,
    StorageConfig,
    StorageConfigRepository,
    StoredFile,
    default_provider_of,
)
from api.domain.tenancy import current_tenant


class Storages:
    """The adapters of the current tenant: where new files go, and where a file lives."""

    def __init__(self, factory: BlobStorageFactory, configs: StorageConfigRepository) -> None:
        self._factory = factory
        self._configs = configs

    async def current(self) -> tuple[StorageConfig, BlobStorage]:
        """The settings new files are written with (the deployment default when none)."""
        config = await self._configs.current() or self._factory.default_config()
        return config, self._factory.for_config(config, tenant_id=current_tenant())

    async def for_file(self, file: StoredFile) -> BlobStorage:
        """The adapter for the settings version `file` was written with."""
        if file.config_id == DEFAULT_CONFIG_ID or file.config_id.startswith("default:"):
            config = self._factory.default_config(default_provider_of(file.config_id))
        else:
            found = await self._configs.get(file.config_id)
            if found is None:  # versions are never deleted: the data is inconsistent
                raise NotFound("The storage settings this file was written with are gone.")
            config = found
        return self._factory.for_config(config, tenant_id=current_tenant())
