"""Storage settings versions and file metadata in MongoDB, within the current tenant.

Secrets of a storage configuration (`connection_string`, `secret_access_key`) are stored
encrypted with the `SecretBox`; they are decrypted only when a version is loaded to build
an adapter. Versions are immutable once written, so loaded versions are kept in a small
in-process cache keyed by (tenant, version id): reading a file or signing an avatar URL
does not decrypt the same settings again.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import ClassVar

from beanie import SortDirection
from pydantic import Field
from pymongo import DESCENDING, IndexModel

from api.domain.errors import ServiceUnavailable
from api.domain.files.storage import StorageConfig, StorageProvider, StoredFile
from api.domain.identity.auth import SecretBox
from api.domain.tenancy import current_tenant
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    to_object_id,
)

SECRET_FIELDS = ("connection_string", "secret_access_key")
CONFIG_CACHE_SIZE = 1024
_CONFIG_FIELDS = set(StorageConfig.model_fields) - {"id"}
_FILE_FIELDS = set(StoredFile.model_fields) - {"id", TENANT_FIELD}


class StorageConfigDocument(TenantOwnedDocument):
    """One version of a tenant's storage settings; secret fields hold ciphertexts."""

    provider: StorageProvider
    connection_string: str | None = None  # encrypted
    container: str | None = None
    bucket: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None  # encrypted
    endpoint_url: str | None = None
    created_at: datetime

    class Settings:
        name = "storage_configs"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1), ("_id", DESCENDING)], name="tenant_newest"),
        ]


class FileDocument(TenantOwnedDocument):
    """Metadata of one stored blob (the bytes live with the provider)."""

    filename: str = Field(max_length=255)
    content_type: str
    size: int
    sha256: str
    key: str
    config_id: str
    purpose: str = "upload"
    owner_id: str | None = None
    created_at: datetime

    class Settings:
        name = "files"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1), ("created_at", DESCENDING)], name="tenant_created"),
            IndexModel([(TENANT_FIELD, 1), ("owner_id", 1)], name="tenant_owner"),
        ]

    @classmethod
    def from_entity(cls, file: StoredFile) -> FileDocument:
        return cls(**file.model_dump(exclude={"id", "tenant_id"}))

    def to_entity(self) -> StoredFile:
        return StoredFile(
            id=str(self.id),
            tenant_id=self.tenant_id,
            **self.model_dump(include=_FILE_FIELDS),
        )


class BeanieStorageConfigRepository:
    """`StorageConfigRepository` adapter (fail closed: `TenantRequired` without a tenant).

    Register one instance per process: it holds the cache of decrypted versions.
    """

    def __init__(self, secret_box: SecretBox) -> None:
        self._box = secret_box
        self._scoped = TenantScopedRepository(StorageConfigDocument)
        self._cache: OrderedDict[tuple[str, str], StorageConfig] = OrderedDict()

    async def current(self) -> StorageConfig | None:
        newest = await self._scoped.find(sort=[("_id", SortDirection.DESCENDING)], limit=1)
        return self._remember(self._to_entity(newest[0])) if newest else None

    async def get(self, config_id: str) -> StorageConfig | None:
        cache_key = (current_tenant(), config_id)
        cached = self._cache.get(cache_key)
        if cached is not None:
            self._cache.move_to_end(cache_key)
            return cached
        document = await self._scoped.get(config_id)
        return self._remember(self._to_entity(document)) if document else None

    async def add(self, config: StorageConfig) -> StorageConfig:
        fields = config.model_dump(exclude={"id"})
        for name in SECRET_FIELDS:
            if fields.get(name) is not None:
                fields[name] = self._box.encrypt(fields[name])
        document = await self._scoped.insert(StorageConfigDocument(**fields))
        return self._remember(config.model_copy(update={"id": str(document.id)}))

    def _to_entity(self, document: StorageConfigDocument) -> StorageConfig:
        fields = document.model_dump(include=_CONFIG_FIELDS)
        try:
            for name in SECRET_FIELDS:
                if fields.get(name) is not None:
                    fields[name] = self._box.decrypt(fields[name])
        except ValueError as exc:  # ENCRYPTION_KEY changed: the settings cannot be used
            raise ServiceUnavailable(
                "storage", detail="The stored storage settings cannot be decrypted."
            ) from exc
        return StorageConfig(id=str(document.id), **fields)

    def _remember(self, config: StorageConfig) -> StorageConfig:
        assert config.id is not None  # noqa: S101 - stored versions have ids
        self._cache[(current_tenant(), config.id)] = config
        while len(self._cache) > CONFIG_CACHE_SIZE:
            self._cache.popitem(last=False)
        return config


class BeanieFileRepository:
    """`FileRepository` adapter, within the current tenant (fail closed)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(FileDocument)

    async def add(self, file: StoredFile) -> StoredFile:
        return (await self._scoped.insert(FileDocument.from_entity(file))).to_entity()

    async def get(self, file_id: str) -> StoredFile | None:
        document = await self._scoped.get(file_id)
        return document.to_entity() if document else None

    async def get_many(self, file_ids: list[str]) -> list[StoredFile]:
        """The files among `file_ids` that exist in this tenant (one query)."""
        oids = [oid for oid in (to_object_id(i) for i in set(file_ids)) if oid is not None]
        if not oids:
            return []
        documents = await self._scoped.find({"_id": {"$in": oids}})
        return [d.to_entity() for d in documents]

    async def delete(self, file_id: str) -> bool:
        return await self._scoped.delete(file_id)
