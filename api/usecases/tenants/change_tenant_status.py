"""Suspending and reactivating a tenant."""

from __future__ import annotations

from api.domain.errors import Conflict, FieldProblem, InvalidInput, NotFound
from api.domain.permissions import Permission
from api.domain.tenants.tenant import Tenant, TenantDirectory, TenantRepository, TenantStatus
from api.usecases.kernel.auditor import Auditor
from api.usecases.tenants.rules import PlatformCaller, authorize, existing_tenant

SWITCHABLE = (TenantStatus.ACTIVE, TenantStatus.SUSPENDED)


def check_switchable(status: TenantStatus) -> None:
    """Only `active` and `suspended` are set by hand (422 otherwise)."""
    if status not in SWITCHABLE:
        raise InvalidInput(
            "Invalid status.", [FieldProblem(("status",), "must be active or suspended")]
        )


class ChangeTenantStatus:
    """Suspend or reactivate a tenant (`tenants:write`, platform plane).

    Run by `DELETE /tenants/{id}` (suspend), `PUT /tenants/{id}` with a `status`, and the
    console's `tenants suspend|activate`.

    Rules: an unknown or malformed id is `NotFound`; only `active` and `suspended` are
    set here (422 for another status) and only on a tenant that is one of them: a pending
    sign-up is approved or rejected (`ReviewSignup`), never activated here (409); setting
    the status it already has changes nothing and writes nothing; otherwise the change is
    audited in the tenant as `tenant.suspended` / `tenant.activated` with the status diff.
    A suspended tenant's requests are refused at once by this process (its routing cache
    entry is dropped) and within the directory's cache TTL by every other replica.
    Suspending deletes nothing: purging a tenant's data is a separate job.
    """

    def __init__(
        self, tenants: TenantRepository, directory: TenantDirectory, auditor: Auditor
    ) -> None:
        self._tenants = tenants
        self._directory = directory
        self._auditor = auditor

    async def execute(self, caller: PlatformCaller, tenant_id: str, status: TenantStatus) -> Tenant:
        authorize(caller, Permission.TENANTS_WRITE)
        check_switchable(status)
        tenant = await existing_tenant(self._tenants, tenant_id)
        assert tenant.id is not None  # noqa: S101 - checked by existing_tenant
        if tenant.status not in SWITCHABLE:
            raise Conflict(
                f"This tenant is {tenant.status.value}: a sign-up is approved or rejected, "
                "not activated or suspended."
            )
        if tenant.status is status:
            return tenant
        changed = await self._tenants.set_status(tenant.id, status, only_from=tenant.status)
        if changed is None:
            raise NotFound("Tenant not found.")
        self._directory.forget(changed)
        verb = "suspended" if status is TenantStatus.SUSPENDED else "activated"
        await self._auditor.record(
            f"tenant.{verb}", "tenant", tenant.id, actor_id=caller.user_id,
            changes={"status": {"from": tenant.status.value, "to": status.value}},
            tenant_id=tenant.id,
        )  # fmt: skip
        return changed
