"""The permission catalog as a tenant sees it."""

from __future__ import annotations

from api.domain.errors import Forbidden
from api.domain.identity.auth import Principal
from api.domain.permissions import CATALOG, CatalogEntry
from api.domain.tenancy import current_tenant


class ListPermissions:
    """The tenant permissions of the catalog (never platform ones), for any signed-in user."""

    async def execute(self, principal: Principal) -> list[CatalogEntry]:
        current_tenant()  # a tenant's catalog: refused in the platform plane
        if principal.is_platform:
            raise Forbidden("This lists a tenant's permissions.")
        return [p for p in CATALOG if not p.platform]
