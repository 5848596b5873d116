"""Turning what a request names into an active tenant: the only place a request mints
a TenantId."""

from __future__ import annotations

from api.domain.errors import (
    InvalidInput,
    InvalidTenant,
    TenantNotFound,
    TenantPending,
    TenantSuspended,
)
from api.domain.tenancy import TenantId
from api.domain.tenants.tenant import (
    Tenant,
    TenantDirectory,
    TenantStatus,
    normalize_subdomain,
    parse_tenant_id,
)


def _admit(tenant: Tenant | None) -> TenantId:
    if tenant is None or tenant.id is None:
        raise TenantNotFound("No tenant matches this request.")
    if tenant.status is TenantStatus.PENDING:
        raise TenantPending(
            "This organisation is waiting for approval: it serves nothing until a platform "
            "administrator approves it (its owner is told by email)."
        )
    if not tenant.is_active:
        raise TenantSuspended("This tenant is suspended.")
    return TenantId(tenant.id)


class ResolveTenant:
    """Turn what a request names (an id or a subdomain) into an active tenant's id.

    Rules: a malformed name is `InvalidTenant`; an unknown one `TenantNotFound`; a
    pending tenant `TenantPending`; a suspended (or rejected) one `TenantSuspended`. This
    is the only place a request mints a TenantId.
    """

    def __init__(self, directory: TenantDirectory) -> None:
        self._directory = directory

    async def by_id(self, raw_id: str) -> TenantId:
        return _admit(await self._directory.by_id(parse_tenant_id(raw_id)))

    async def by_subdomain(self, label: str) -> TenantId:
        try:
            subdomain = normalize_subdomain(label, allow_reserved=True)
        except InvalidInput:
            raise InvalidTenant("The host does not name a valid tenant subdomain.") from None
        return _admit(await self._directory.by_subdomain(subdomain))
