"""The tenant's usage against its plan (`GET /tenant/usage`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from api.domain.clock import Clock
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.domain.plans import LimitName
from api.domain.tenancy import current_tenant
from api.usecases.kernel.authority import require_permission
from api.usecases.kernel.plan_gate import CurrentPlan, PlanGate, period_of


class Figure(BaseModel):
    used: int
    limit: int | None  # None: unlimited


class UsagePeriod(BaseModel):
    month_start: datetime
    month_end: datetime
    day_start: datetime
    day_end: datetime
    timezone: str = "UTC"


class TenantUsage(BaseModel):
    plan_id: str | None
    plan_name: str
    usage: dict[str, Figure]
    period: UsagePeriod


_FIGURES = (
    ("seats", LimitName.SEATS),
    ("channels", LimitName.CHANNELS),
    ("messages_this_month", LimitName.MESSAGES_PER_MONTH),
    ("ai_tokens_today", LimitName.AI_TOKENS_PER_DAY),
    ("storage_bytes", LimitName.STORAGE_BYTES),
)


class GetTenantUsage:
    """The current tenant's plan and usage (`tenant:read`: owners and admins). Periods are
    UTC: the calendar month for messages, the day for AI tokens."""

    def __init__(self, plans: CurrentPlan, gate: PlanGate, clock: Clock) -> None:
        self._plans = plans
        self._gate = gate
        self._clock = clock

    async def execute(self, principal: Principal) -> TenantUsage:
        require_permission(principal, Permission.TENANT_READ)
        plan = await self._plans.of(current_tenant())
        now = self._clock.now()
        month = period_of(LimitName.MESSAGES_PER_MONTH, now)
        day = period_of(LimitName.AI_TOKENS_PER_DAY, now)
        assert month.start is not None  # noqa: S101 - periodic
        assert month.end is not None  # noqa: S101
        assert day.start is not None  # noqa: S101
        assert day.end is not None  # noqa: S101
        usage = {
            label: Figure(used=await self._gate.used(name), limit=plan.limits.of(name))
            for label, name in _FIGURES
        }
        return TenantUsage(
            plan_id=plan.id, plan_name=plan.name, usage=usage,
            period=UsagePeriod(month_start=month.start, month_end=month.end,
                               day_start=day.start, day_end=day.end),
        )  # fmt: skip
