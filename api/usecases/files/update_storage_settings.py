"""Choosing where the tenant's new files go: proven with a round trip, saved as a new
version, secrets never shown or audited."""

from __future__ import annotations

from api.domain.errors import FieldProblem, InvalidInput, ServiceUnavailable
from api.domain.files.storage import (
    BlobStorageFactory,
    StorageConfig,
    StorageConfigRepository,
    StorageProvider,
)
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.domain.tenancy import current_tenant
from api.usecases.files.rules import (
    PUBLIC_FIELDS,
    StoragePolicy,
    check_endpoint,
    check_fields,
    scrub,
)
from api.usecases.files.settings_view import StorageSettingsView, settings_view
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_now


class UpdateStorageSettings:
    """Choose where the tenant's new files go (`storage:manage`).

    Rules: the provider must be one this deployment offers (422); each provider's
    required settings must be given (422: azure_blob `connection_string` + `container`,
    s3 `bucket`, `region`, `access_key_id`, `secret_access_key`); an S3 `endpoint_url` or
    an Azure `BlobEndpoint` must be one the deployment allows (`STORAGE_ALLOWED_ENDPOINTS`,
    422 before any call: a tenant cannot make Parley probe its internal network), and an
    Azure account without one must be in a public cloud; the settings are proven
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
        check_endpoint(config, self._policy)  # before any call: no probing inside (SSRF)
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
