"""Editing a tenant's settings in the platform plane."""

from __future__ import annotations

from typing import Any

from api.domain.errors import NotFound
from api.domain.permissions import Permission
from api.domain.tenants.tenant import (
    SignupMode,
    Tenant,
    TenantDirectory,
    TenantRepository,
    TenantStatus,
)
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.tenants.change_tenant_status import ChangeTenantStatus, check_switchable
from api.usecases.tenants.rules import PlatformCaller, authorize, existing_tenant, required_text


class UpdateTenant:
    """Edit a tenant's name, sign-up mode, email-verification rule or status
    (`tenants:write`, platform plane).

    Rules: an unknown tenant is `NotFound`; a blank name is invalid; the subdomain never
    changes; field changes are audited once as `tenant.updated` with their diff; a status
    change goes through `ChangeTenantStatus`; nothing changed, nothing written.
    """

    def __init__(
        self,
        tenants: TenantRepository,
        directory: TenantDirectory,
        change_status: ChangeTenantStatus,
        auditor: Auditor,
    ) -> None:
        self._tenants = tenants
        self._directory = directory
        self._change_status = change_status
        self._auditor = auditor

    async def execute(
        self,
        caller: PlatformCaller,
        tenant_id: str,
        *,
        name: str | None = None,
        signup_mode: SignupMode | None = None,
        require_email_verification: bool | None = None,
        status: TenantStatus | None = None,
    ) -> Tenant:
        authorize(caller, Permission.TENANTS_WRITE)
        if status is not None:
            check_switchable(status)  # before any field is written
        tenant = await existing_tenant(self._tenants, tenant_id)
        assert tenant.id is not None  # noqa: S101 - checked by existing_tenant
        stored_id = tenant.id
        wanted: dict[str, Any] = {}
        if name is not None:
            wanted["name"] = required_text(name, "name")
        if signup_mode is not None:
            wanted["signup_mode"] = signup_mode.value
        if require_email_verification is not None:
            wanted["require_email_verification"] = require_email_verification
        changes = diff(tenant.model_dump(mode="json", include=set(wanted)), wanted)
        if changes:
            updated = await self._tenants.update(stored_id, {k: wanted[k] for k in changes})
            if updated is None:
                raise NotFound("Tenant not found.")
            self._directory.forget(updated)
            await self._auditor.record(
                "tenant.updated", "tenant", stored_id, actor_id=caller.user_id,
                changes=changes, tenant_id=stored_id,
            )  # fmt: skip
            tenant = updated
        if status is not None:
            tenant = await self._change_status.execute(caller, stored_id, status)
        return tenant
