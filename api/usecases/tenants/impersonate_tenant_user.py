"""Impersonation: a platform admin acting inside a tenant as one of its users.

The only way platform power reaches into a tenant: a plain platform token is refused in
every tenant. The tokens issued here are the user's own (tenant, permissions), with the
admin's id as `act`, so every later request and audit entry can tell who really acted.
"""

from __future__ import annotations

from api.domain.errors import NotFound, TenantSuspended
from api.domain.identity.auth import Principal, TokenPair
from api.domain.identity.users import UserRepository
from api.domain.permissions import Permission
from api.domain.tenancy import TenantId, tenant_context
from api.domain.tenants.tenant import TenantRepository
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.sessions import SessionIssuer
from api.usecases.tenants.rules import authorize, existing_tenant


class ImpersonateTenantUser:
    """A token pair for a tenant user, carrying the platform admin as `act`
    (`tenants:impersonate`, platform plane).

    Rules: the tenant must exist (`NotFound`) and be active (`TenantSuspended`); the user
    must exist and be active in it (`NotFound`); the tokens hold that user's permissions in
    that tenant only; the start is audited as `tenant.impersonation_started` in the tenant
    and in the platform plane. Only a platform admin's `Principal` can impersonate (never
    the console's `OPERATOR`): the tokens must name a real admin in `act`.
    """

    def __init__(
        self,
        tenants: TenantRepository,
        users: UserRepository,
        issuer: SessionIssuer,
        auditor: Auditor,
    ) -> None:
        self._tenants = tenants
        self._users = users
        self._issuer = issuer
        self._auditor = auditor

    async def execute(self, principal: Principal, tenant_id: str, user_id: str) -> TokenPair:
        authorize(principal, Permission.TENANTS_IMPERSONATE)
        tenant = await existing_tenant(self._tenants, tenant_id)
        if not tenant.is_active:
            raise TenantSuspended("A suspended tenant's users cannot be impersonated.")
        assert tenant.id is not None  # noqa: S101 - checked by existing_tenant
        with tenant_context(TenantId(tenant.id)):
            user = await self._users.get(user_id)
            if user is None or user.id is None or not user.is_active:
                raise NotFound("User not found.")
            tokens, session_id = await self._issuer.start(user, actor_id=principal.user_id)
            changes = {"tenant_id": tenant.id, "user_id": user.id, "session_id": session_id}
            for plane in (tenant.id, None):
                await self._auditor.record(
                    "tenant.impersonation_started", "user", user.id,
                    actor_id=principal.user_id, changes=changes, tenant_id=plane,
                )  # fmt: skip
        return tokens
