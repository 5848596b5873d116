"""Departments (`/api/v1/departments`): what clients send and read.

Business hours are checked by the use case (codes `invalid_timezone`,
`invalid_time_span`, `overlapping_time_spans`); the schemas bound sizes and ranges.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from api.domain.departments import Department, DepartmentPage, SlaTargets
from api.interfaces.http.schemas.inbox_settings import BusinessHoursIn, BusinessHoursOut
from api.usecases.crm.departments import MAX_MEMBERS, MAX_NAME_LENGTH, DepartmentChange

MAX_SLA_MINUTES = 525_600  # a year
_STRICT = ConfigDict(extra="forbid")
Members = list[Annotated[str, Field(min_length=1, max_length=64)]]
Minutes = Annotated[int, Field(ge=1, le=MAX_SLA_MINUTES)]


class SlaIn(BaseModel):
    model_config = _STRICT

    first_response_minutes: Minutes | None = Field(
        default=None, description="Minutes to the first answer (business time); null: none."
    )
    resolution_minutes: Minutes | None = Field(
        default=None, description="Minutes to resolution (business time); null: none."
    )

    def to_domain(self) -> SlaTargets:
        return SlaTargets(
            first_response_minutes=self.first_response_minutes,
            resolution_minutes=self.resolution_minutes,
        )


class DepartmentIn(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    members: Members = Field(
        default_factory=list,
        max_length=MAX_MEMBERS,
        description="User ids of active users of the tenant (each once).",
    )
    sla: SlaIn = Field(default_factory=SlaIn)
    business_hours: BusinessHoursIn | None = Field(default=None, description="null: always open.")


class DepartmentUpdateIn(BaseModel):
    """The fields sent replace the stored ones; `business_hours: null` means always open."""

    model_config = _STRICT

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_LENGTH)
    members: Members | None = Field(
        default=None, max_length=MAX_MEMBERS, description="Replaces the members when given."
    )
    sla: SlaIn | None = Field(default=None, description="Replaces both targets when given.")
    business_hours: BusinessHoursIn | None = Field(default=None, description="null: always open.")

    def to_change(self) -> DepartmentChange:
        fields: dict[str, Any] = {}
        if self.name is not None:
            fields["name"] = self.name
        if self.members is not None:
            fields["member_ids"] = self.members
        if self.sla is not None:
            fields["sla"] = self.sla.to_domain()
        if "business_hours" in self.model_fields_set:
            hours = self.business_hours
            fields["business_hours"] = hours.to_domain() if hours is not None else None
        return DepartmentChange(**fields)


class SlaOut(BaseModel):
    first_response_minutes: int | None
    resolution_minutes: int | None


class DepartmentOut(BaseModel):
    id: str
    name: str
    members: list[str] = Field(description="User ids.")
    sla: SlaOut
    business_hours: BusinessHoursOut | None = Field(description="null: always open.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, department: Department) -> DepartmentOut:
        fields = department.model_dump(exclude={"tenant_id", "member_ids"})
        return cls.model_validate({**fields, "members": department.member_ids})


class DepartmentPageOut(BaseModel):
    items: list[DepartmentOut]
    total: int
    page: int
    page_size: int

    @classmethod
    def of(cls, found: DepartmentPage, page: int, page_size: int) -> DepartmentPageOut:
        return cls(
            items=[DepartmentOut.of(d) for d in found.items],
            total=found.total,
            page=page,
            page_size=page_size,
        )
