"""The deployment's `BlobStorageFactory`: which adapter serves a configuration.

- `local` ignores the configuration's fields: files go under `LOCAL_STORAGE_DIR`.
- `azure_blob` and `s3` take their settings from the configuration; the deployment's
  default configuration (id `default`) carries the deployment's own credentials
  (`AZURE_STORAGE_*`, `AWS_*`).
- A provider is "configured" when the deployment has credentials for it: local always,
  Azure with `AZURE_STORAGE_CONNECTION_STRING`, S3 with `AWS_S3_BUCKET`. Tenants may
  still bring their own settings for any of them.

The adapters are cheap to build (they hold settings; clients are per operation or
cached), so building one per request is fine. The Azure and S3 adapters (their SDKs are
seconds of imports) are imported when a configuration first needs them.
"""

from __future__ import annotations

from api.config import StorageSettings
from api.domain.errors import InvalidInput
from api.domain.files.storage import DEFAULT_CONFIG_ID, BlobStorage, StorageConfig, StorageProvider
from api.infrastructure.storage.local import LocalBlobStorage, LocalUrlSigner


class DeploymentBlobStorageFactory:
    """Builds the adapter for a storage configuration, bound to one tenant."""

    def __init__(
        self,
        settings: StorageSettings,
        *,
        local_signer: LocalUrlSigner,
        local_download_url: str,
    ) -> None:
        self._settings = settings
        self._signer = local_signer
        self._download_url = local_download_url

    def for_config(self, config: StorageConfig, *, tenant_id: str) -> BlobStorage:
        if config.provider is StorageProvider.LOCAL:
            return LocalBlobStorage(
                self._settings.local_storage_dir,
                tenant_id=tenant_id,
                signer=self._signer,
                download_url=self._download_url,
            )
        if config.provider is StorageProvider.AZURE_BLOB:
            if not config.connection_string or not config.container:
                raise InvalidInput("Azure Blob needs a connection string and a container.")
            from api.infrastructure.storage.azure import AzureBlobStorage

            return AzureBlobStorage(
                config.connection_string,
                config.container,
                tenant_id=tenant_id,
                connection_timeout=self._settings.storage_connect_timeout_seconds,
                read_timeout=self._settings.storage_read_timeout_seconds,
            )
        if config.provider is StorageProvider.S3:
            if not config.bucket:
                raise InvalidInput("S3 needs a bucket.")
            from api.infrastructure.storage.s3 import S3BlobStorage

            return S3BlobStorage(
                config.bucket,
                config.region or self._settings.aws_s3_region,
                config.access_key_id,
                config.secret_access_key,
                config.endpoint_url,
                tenant_id=tenant_id,
                connect_timeout=self._settings.storage_connect_timeout_seconds,
                read_timeout=self._settings.storage_read_timeout_seconds,
                max_in_flight=self._settings.storage_max_in_flight,
            )
        raise InvalidInput(f"Unknown storage provider {config.provider!r}.")

    def default_config(self, provider: StorageProvider | None = None) -> StorageConfig:
        settings = self._settings
        provider = provider or StorageProvider(settings.storage_default_provider)
        if provider is StorageProvider.AZURE_BLOB:
            secret = settings.azure_storage_connection_string
            return StorageConfig(
                id=DEFAULT_CONFIG_ID,
                provider=provider,
                connection_string=secret.get_secret_value() if secret else None,
                container=settings.azure_storage_container,
            )
        if provider is StorageProvider.S3:
            key = settings.aws_secret_access_key
            return StorageConfig(
                id=DEFAULT_CONFIG_ID,
                provider=provider,
                bucket=settings.aws_s3_bucket,
                region=settings.aws_s3_region,
                access_key_id=settings.aws_access_key_id,
                secret_access_key=key.get_secret_value() if key else None,
                endpoint_url=settings.aws_s3_endpoint_url,
            )
        return StorageConfig(id=DEFAULT_CONFIG_ID, provider=StorageProvider.LOCAL)

    def available(self) -> list[tuple[StorageProvider, bool]]:
        settings = self._settings
        return [
            (StorageProvider.LOCAL, True),
            (
                StorageProvider.AZURE_BLOB,
                settings.azure_storage_connection_string is not None
                and bool(settings.azure_storage_connection_string.get_secret_value()),
            ),
            (StorageProvider.S3, bool(settings.aws_s3_bucket)),
        ]
