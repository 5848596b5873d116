"""Platform admins manage plans (`plans:manage`, platform plane) and put tenants on them."""

from __future__ import annotations

from pydantic import BaseModel

from api.common.clock import utcnow
from api.domain.errors import Conflict, NotFound
from api.domain.permissions import Permission
from api.domain.plans import Plan, PlanLimits, PlanRepository, TenantPlans
from api.domain.tenants.tenant import Tenant, TenantDirectory, TenantRepository
from api.usecases.kernel.auditor import Auditor
from api.usecases.tenants.rules import PlatformCaller, authorize, existing_tenant, required_text

PLAN_NOT_FOUND = "Plan not found."


class PlanPage(BaseModel):
    items: list[Plan]
    total: int


async def existing_plan(plans: PlanRepository, plan_id: str) -> Plan:
    plan = await plans.get(plan_id)
    if plan is None or plan.id is None:
        raise NotFound(PLAN_NOT_FOUND)
    return plan


class ListPlans:
    """One page of plans, by name."""

    def __init__(self, plans: PlanRepository) -> None:
        self._plans = plans

    async def execute(self, caller: PlatformCaller, *, page: int, page_size: int) -> PlanPage:
        authorize(caller, Permission.PLANS_MANAGE)
        items, total = await self._plans.list(skip=(max(page, 1) - 1) * page_size, limit=page_size)
        return PlanPage(items=items, total=total)


class GetPlan:
    def __init__(self, plans: PlanRepository) -> None:
        self._plans = plans

    async def execute(self, caller: PlatformCaller, plan_id: str) -> Plan:
        authorize(caller, Permission.PLANS_MANAGE)
        return await existing_plan(self._plans, plan_id)


class CreatePlan:
    """A new plan. Rules: the name is unique regardless of case (409); flagging it
    default takes the flag from any other plan. Audited: `plan.created` (platform)."""

    def __init__(self, plans: PlanRepository, auditor: Auditor) -> None:
        self._plans = plans
        self._auditor = auditor

    async def execute(
        self, caller: PlatformCaller, *, name: str, limits: PlanLimits, is_default: bool
    ) -> Plan:
        authorize(caller, Permission.PLANS_MANAGE)
        now = utcnow()
        plan = await self._plans.add(
            Plan(name=required_text(name, "name"), limits=limits, is_default=is_default,
                 created_at=now, updated_at=now)
        )  # fmt: skip
        await self._auditor.record(
            "plan.created", "plan", plan.id, actor_id=caller.user_id, tenant_id=None,
            changes={"name": plan.name, "limits": limits.model_dump(), "is_default": is_default},
        )  # fmt: skip
        return plan


class UpdatePlan:
    """Change a plan's name, limits (the whole set) or default flag; tenants on it follow
    at once. Audited: `plan.updated`."""

    def __init__(self, plans: PlanRepository, auditor: Auditor) -> None:
        self._plans = plans
        self._auditor = auditor

    async def execute(
        self,
        caller: PlatformCaller,
        plan_id: str,
        *,
        name: str | None = None,
        limits: PlanLimits | None = None,
        is_default: bool | None = None,
    ) -> Plan:
        authorize(caller, Permission.PLANS_MANAGE)
        await existing_plan(self._plans, plan_id)
        changes: dict[str, object] = {}
        if name is not None:
            changes["name"] = required_text(name, "name")
        if limits is not None:
            changes["limits"] = limits
        if is_default is not None:
            changes["is_default"] = is_default
        if not changes:
            return await existing_plan(self._plans, plan_id)
        plan = await self._plans.update(plan_id, changes)
        if plan is None:
            raise NotFound(PLAN_NOT_FOUND)
        audited = {
            k: v.model_dump() if isinstance(v, PlanLimits) else v for k, v in changes.items()
        }
        await self._auditor.record(
            "plan.updated", "plan", plan_id, actor_id=caller.user_id, tenant_id=None,
            changes=audited,
        )  # fmt: skip
        return plan


class DeletePlan:
    """Delete a plan no tenant is on (409 otherwise). Audited: `plan.deleted`."""

    def __init__(self, plans: PlanRepository, tenants: TenantPlans, auditor: Auditor) -> None:
        self._plans = plans
        self._tenants = tenants
        self._auditor = auditor

    async def execute(self, caller: PlatformCaller, plan_id: str) -> None:
        authorize(caller, Permission.PLANS_MANAGE)
        plan = await existing_plan(self._plans, plan_id)
        on_it = await self._tenants.count_on_plan(plan_id)
        if on_it:
            raise Conflict(f"{on_it} tenant(s) are on this plan; move them first.")
        if not await self._plans.delete(plan_id):
            raise NotFound(PLAN_NOT_FOUND)
        await self._auditor.record(
            "plan.deleted", "plan", plan_id, actor_id=caller.user_id, tenant_id=None,
            changes={"name": plan.name},
        )  # fmt: skip


class AssignPlan:
    """Put a tenant on a plan (`plan_id` None: back to the default plan). Audited in the
    tenant: `tenant.plan_changed`."""

    def __init__(
        self,
        plans: PlanRepository,
        tenants: TenantRepository,
        assignments: TenantPlans,
        directory: TenantDirectory,
        auditor: Auditor,
    ) -> None:
        self._plans = plans
        self._tenants = tenants
        self._assignments = assignments
        self._directory = directory
        self._auditor = auditor

    async def execute(self, caller: PlatformCaller, tenant_id: str, plan_id: str | None) -> Tenant:
        authorize(caller, Permission.PLANS_MANAGE)
        tenant = await existing_tenant(self._tenants, tenant_id)
        if plan_id is not None:
            await existing_plan(self._plans, plan_id)
        changed = await self._assignments.set_plan(tenant_id, plan_id)
        if changed is None or changed.id is None:
            raise NotFound("Tenant not found.")
        self._directory.forget(changed)
        await self._auditor.record(
            "tenant.plan_changed", "tenant", changed.id, actor_id=caller.user_id,
            tenant_id=changed.id, changes={"plan_id": [tenant.plan_id, plan_id]},
        )  # fmt: skip
        return changed
