"""The company profile's logo, public: the emails sent for the tenant show it."""

from __future__ import annotations

from api.domain.errors import NotFound
from api.domain.files.storage import FileRepository
from api.domain.tenancy import tenant_context
from api.domain.tenants.profile import LOGO_TYPES, TenantProfileRepository
from api.usecases.files.open_local_download import Download, opened
from api.usecases.files.storages import Storages
from api.usecases.kernel.tenancy import ResolveTenant

NO_LOGO = "This tenant has no logo."


class OpenTenantLogo:
    """Stream the current logo of a tenant's company profile, to anyone (a logo is public
    by nature: it is in every email the tenant sends, and mail clients fetch it without
    credentials).

    Rules: the tenant must exist and be active (unknown 404, suspended 403); a tenant
    without a logo, or whose logo file is gone or not an image, is 404. Nothing but the
    profile's logo file can be read this way.
    """

    def __init__(
        self,
        tenants: ResolveTenant,
        profiles: TenantProfileRepository,
        files: FileRepository,
        storages: Storages,
    ) -> None:
        self._tenants = tenants
        self._profiles = profiles
        self._files = files
        self._storages = storages

    async def execute(self, raw_tenant_id: str) -> Download:
        tenant_id = await self._tenants.by_id(raw_tenant_id)
        with tenant_context(tenant_id):
            profile = await self._profiles.get()
            if profile is None or profile.logo_file_id is None:
                raise NotFound(NO_LOGO)
            file = await self._files.get(profile.logo_file_id)
            if file is None or file.content_type not in LOGO_TYPES:
                raise NotFound(NO_LOGO)
            storage = await self._storages.for_file(file)
            return Download(file.filename, file.content_type, await opened(storage, file.key))
