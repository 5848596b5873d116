"""File storage: where a tenant's files live (local disk, Azure Blob, S3), and the files.

A tenant chooses a provider (`PUT /storage`); every change is a new, immutable
`StorageConfig` version, and every stored file remembers the version it was written with,
so switching providers never loses access to older files. The deployment's default
provider (version id `default`) serves tenants that chose none. An upload's type is
sniffed from its bytes (`ContentSniffer`) and its name made safe (`FilenameSanitizer`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, Field

DEFAULT_CONFIG_ID = "default"


def default_config_ref(provider: StorageProvider) -> str:
    """What a file written with the deployment's settings records: the provider too, so a
    later change of `STORAGE_DEFAULT_PROVIDER` does not send its reads elsewhere."""
    return f"{DEFAULT_CONFIG_ID}:{provider.value}"


def default_provider_of(config_ref: str) -> StorageProvider | None:
    """The provider named by a `default_config_ref`, or None for a tenant's own version."""
    if config_ref == DEFAULT_CONFIG_ID:
        return None  # written before refs named their provider: the current default
    prefix = DEFAULT_CONFIG_ID + ":"
    return StorageProvider(config_ref[len(prefix) :]) if config_ref.startswith(prefix) else None


class StorageProvider(StrEnum):
    LOCAL = "local"
    AZURE_BLOB = "azure_blob"
    S3 = "s3"


class StorageConfig(BaseModel):
    """One version of a tenant's storage settings. Secret fields are plaintext here only in
    memory: repositories encrypt them at rest and no endpoint ever returns them."""

    id: str | None = None  # DEFAULT_CONFIG_ID for the deployment's default
    provider: StorageProvider
    # azure_blob
    connection_string: str | None = None  # secret
    container: str | None = None
    # s3 (or compatible)
    bucket: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None  # secret
    endpoint_url: str | None = None
    created_at: datetime | None = None

    @property
    def has_secret(self) -> bool:
        return bool(self.connection_string or self.secret_access_key)


class SignedUrl(BaseModel):
    url: str
    expires_at: datetime


class BlobStorage(Protocol):
    """One provider location. Streams in and out; never holds a whole file in memory.

    Errors: `ServiceUnavailable` when the provider cannot be reached, `InvalidInput` (with
    the provider's reason, never a secret) when it refuses these settings, `NotFound` for a
    missing blob."""

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, content_type: str) -> None: ...

    def open(self, key: str) -> AsyncIterator[bytes]:
        """The blob's bytes in chunks."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the blob; a missing blob is not an error."""
        ...

    async def signed_url(
        self, key: str, *, expires_in: int, filename: str, content_type: str
    ) -> SignedUrl: ...

    async def check(self) -> None:
        """A real round trip (write, read, delete a probe) proving the settings work."""
        ...


class BlobStorageFactory(Protocol):
    """Builds adapters for configurations, and knows what this deployment offers."""

    def for_config(self, config: StorageConfig, *, tenant_id: str) -> BlobStorage: ...

    def default_config(self, provider: StorageProvider | None = None) -> StorageConfig:
        """The deployment's settings for `provider` (default: `STORAGE_DEFAULT_PROVIDER`),
        id `default`."""
        ...

    def available(self) -> list[tuple[StorageProvider, bool]]:
        """Every provider this deployment can use, and whether it is configured."""
        ...


class StorageConfigRepository(Protocol):
    """Versions of the current tenant's storage settings (secrets encrypted at rest)."""

    async def current(self) -> StorageConfig | None: ...

    async def get(self, config_id: str) -> StorageConfig | None: ...

    async def add(self, config: StorageConfig) -> StorageConfig:
        """Store a new version; it becomes the current one."""
        ...


class StoredFile(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    filename: str = Field(max_length=255)  # sanitised; never used as a storage key
    content_type: str
    size: int
    sha256: str
    key: str  # tenants/{tenant_id}/{uuid}
    config_id: str  # the StorageConfig version the blob was written with
    purpose: str = "upload"  # upload | avatar
    owner_id: str | None = None
    created_at: datetime


class FileRepository(Protocol):
    """Metadata of the current tenant's files."""

    async def add(self, file: StoredFile) -> StoredFile: ...

    async def get(self, file_id: str) -> StoredFile | None: ...

    async def delete(self, file_id: str) -> bool: ...


class ContentSniffer(Protocol):
    """The content type of a file from its first bytes (None when unknown)."""

    def __call__(self, head: bytes, filename: str) -> str | None: ...


class FilenameSanitizer(Protocol):
    """A filename safe to keep and to show: no path, no control characters, bounded."""

    def __call__(self, name: str) -> str: ...


class FileCatalog(FileRepository, Protocol):
    """`FileRepository`, plus reading several files in one query (avatars of a page)."""

    async def get_many(self, file_ids: list[str]) -> list[StoredFile]: ...
