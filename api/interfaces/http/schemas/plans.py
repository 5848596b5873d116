"""Plans, a tenant's plan and its usage, as the API shows them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.domain.plans import MAX_LIMIT, Plan, PlanLimits
from api.usecases.tenants.usage import Figure, TenantUsage, UsagePeriod


class LimitsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seats: int | None = Field(
        default=None, ge=0, le=MAX_LIMIT, description="Active users; null: unlimited."
    )
    channels: int | None = Field(
        default=None, ge=0, le=MAX_LIMIT, description="Connected channels."
    )
    messages_per_month: int | None = Field(
        default=None, ge=0, le=MAX_LIMIT, description="Outbound messages per UTC calendar month."
    )
    ai_tokens_per_day: int | None = Field(
        default=None, ge=0, le=MAX_LIMIT, description="AI tokens (chat and assistants) per UTC day."
    )
    storage_bytes: int | None = Field(
        default=None, ge=0, le=MAX_LIMIT, description="Bytes of stored files."
    )

    def to_limits(self) -> PlanLimits:
        return PlanLimits(**self.model_dump())


class PlanCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    limits: LimitsIn = Field(default_factory=LimitsIn)
    is_default: bool = Field(
        default=False, description="Tenants without a plan of their own are on it."
    )


class PlanUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    limits: LimitsIn | None = Field(default=None, description="The whole set of limits.")
    is_default: bool | None = None


class PlanOut(BaseModel):
    id: str
    name: str
    limits: PlanLimits
    is_default: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, plan: Plan) -> PlanOut:
        assert plan.id is not None  # noqa: S101 - stored plans have ids
        return cls(
            id=plan.id, name=plan.name, limits=plan.limits, is_default=plan.is_default,
            created_at=plan.created_at, updated_at=plan.updated_at,
        )  # fmt: skip


class AssignPlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: str | None = Field(description="null: back to the default plan.")


class TenantPlanOut(BaseModel):
    tenant_id: str
    plan_id: str | None


class PlanRef(BaseModel):
    id: str | None = Field(description="null: no plan applies (unlimited).")
    name: str


class TenantUsageOut(BaseModel):
    plan: PlanRef
    usage: dict[str, Figure] = Field(
        description=(
            "`seats`, `channels`, `messages_this_month`, `ai_tokens_today`, "
            "`storage_bytes`: each `{used, limit}` (limit null: unlimited)."
        )
    )
    period: UsagePeriod

    @classmethod
    def of(cls, usage: TenantUsage) -> TenantUsageOut:
        return cls(
            plan=PlanRef(id=usage.plan_id, name=usage.plan_name),
            usage=usage.usage,
            period=usage.period,
        )
