"""Where the tenant's files are stored: read, choose and check the provider settings.

Every change of settings is a new immutable `StorageConfig` version; files remember the
version they were written with (`StoredFile.config_id`), so `Storages.for_file` finds an
old file's provider after the tenant switched. Secrets never leave this module in a
result: use cases answer with `StorageSettingsView`, which has no secret field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from api.domain.errors import FieldProblem, InvalidInput, NotFound, ServiceUnavailable
from api.domain.files.storage import (
    DEFAULT_CONFIG_ID,
    BlobStorage,
    BlobStorageFactory,
    StorageConfig,
    StorageConfigRepository,
    StorageProvider,
    StoredFile,
    default_provider_of,
)
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.domain.tenancy import current_tenant
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_now

AVATAR_CONTENT_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
PUBLIC_FIELDS = ("provider", "container", "bucket", "region", "endpoint_url")
SECRET_FIELDS = ("connection_string", "secret_access_key")
REQUIRED_FIELDS: dict[StorageProvider, tuple[str, ...]] = {
    StorageProvider.LOCAL: (),
    StorageProvider.AZURE_BLOB: ("connection_string", "container"),
    StorageProvider.S3: ("bucket", "region", "access_key_id", "secret_access_key"),
}
ALLOWED_FIELDS: dict[StorageProvider, tuple[str, ...]] = {
    **REQUIRED_FIELDS,
    StorageProvider.S3: (*REQUIRED_FIELDS[StorageProvider.S3], "endpoint_url"),
}


@dataclass(frozen=True)
class StoragePolicy:
    """The deployment's file rules, from settings."""

    max_upload_bytes: int
    max_avatar_bytes: int
    allowed_content_types: frozenset[str]
    signed_url_ttl_seconds: int
    avatar_content_types: frozenset[str] = AVATAR_CONTENT_TYPES


class StorageSettingsView(BaseModel):
    """The tenant's storage settings as clients see them: no secret, only `has_secret`."""

    provider: StorageProvider
    container: str | None = None
    bucket: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    has_secret: bool
    is_default: bool
    updated_at: datetime | None = None
    max_upload_bytes: int
    allowed_content_types: list[str]


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


def settings_view(config: StorageConfig, policy: StoragePolicy) -> StorageSettingsView:
    is_default = config.id in (None, DEFAULT_CONFIG_ID)
    shown: dict[str, Any] = {"provider": config.provider}
    if not is_default:  # the deployment's own buckets and endpoints are not the tenant's
        shown.update({name: getattr(config, name) for name in PUBLIC_FIELDS})
    return StorageSettingsView(
        **shown,
        has_secret=config.has_secret and not is_default,
        is_default=is_default,
        updated_at=None if is_default else config.created_at,
        max_upload_bytes=policy.max_upload_bytes,
        allowed_content_types=sorted(policy.allowed_content_types),
    )


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


class ListStorageProviders:
    """The providers this deployment offers, and whether each is configured (`storage:manage`)."""

    def __init__(self, factory: BlobStorageFactory) -> None:
        self._factory = factory

    async def execute(self, principal: Principal) -> list[tuple[StorageProvider, bool]]:
        require_permission(principal, Permission.STORAGE_MANAGE)
        return self._factory.available()


def check_fields(config: StorageConfig) -> StorageConfig:
    """The settings with only the provider's own fields; `InvalidInput` when one is missing."""
    missing = [name for name in REQUIRED_FIELDS[config.provider] if not getattr(config, name)]
    if missing:
        raise InvalidInput(
            f"These settings are required for {config.provider.value}.",
            [FieldProblem((name,), "is required") for name in missing],
        )
    keep = {"provider", *ALLOWED_FIELDS[config.provider]}
    return StorageConfig(**config.model_dump(include=keep))


def scrub(text: str, config: StorageConfig) -> str:
    """`text` with every secret of `config` masked (defence in depth for provider reasons)."""
    for name in (*SECRET_FIELDS, "access_key_id"):
        value = getattr(config, name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


class UpdateStorageSettings:
    """Choose where the tenant's new files go (`storage:manage`).

    Rules: the provider must be one this deployment offers (422); each provider's
    required settings must be given (422: azure_blob `connection_string` + `container`,
    s3 `bucket`, `region`, `access_key_id`, `secret_access_key`); the settings are proven
    with a real round trip (write, read, delete a probe) BEFORE anything is saved, and a
    refusal or an unreachable provider is 422 with the provider's reason, secrets masked.
    Saved as a new version (secrets encrypted at rest by the repository); files written
    before stay readable through their own version. Audited: `storage.updated`, secrets
    never recorded.
    """

    def __init__(
        self,
        factory: BlobStorageFactory,
        configs: StorageConfigRepository,
        auditor: Auditor,
        policy: StoragePolicy,
    ) -> None:
        self._factory = factory
        self._configs = configs
        self._auditor = auditor
        self._policy = policy

    async def execute(self, principal: Principal, settings: StorageConfig) -> StorageSettingsView:
        require_permission(principal, Permission.STORAGE_MANAGE)
        offered = {provider for provider, _ in self._factory.available()}
        if settings.provider not in offered:
            raise InvalidInput(
                "This deployment does not offer that storage provider.",
                [FieldProblem(("provider",), "is not offered by this deployment")],
            )
        config = check_fields(settings)
        await self._prove(config)
        before = await self._configs.current() or self._factory.default_config()
        saved = await self._configs.add(config.model_copy(update={"created_at": stored_now()}))
        public = {name: getattr(saved, name) for name in PUBLIC_FIELDS}
        changes = diff({name: getattr(before, name) for name in PUBLIC_FIELDS}, public)
        changes["has_secret"] = saved.has_secret
        await self._auditor.record(
            "storage.updated", "storage", saved.id, actor_id=principal.user_id,
            changes=audit_extra(principal, changes),
        )  # fmt: skip
        return settings_view(saved, self._policy)

    async def _prove(self, config: StorageConfig) -> None:
        storage = self._factory.for_config(config, tenant_id=current_tenant())
        try:
            await storage.check()
        except InvalidInput as exc:
            raise InvalidInput(
                "The storage provider refused these settings: " + scrub(exc.detail, config)
            ) from None
        except ServiceUnavailable as exc:
            if config.provider is StorageProvider.LOCAL:
                raise  # the deployment's own disk: an outage, not bad settings
            raise InvalidInput(
                "The storage provider could not be reached with these settings: "
                + scrub(exc.detail, config)
            ) from None
