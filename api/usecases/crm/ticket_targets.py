"""The SLA targets a ticket's timers run on: its department's."""

from __future__ import annotations

from api.domain.crm.tickets import Targets
from api.domain.departments import DepartmentRepository


class TicketTargets:
    """The department's targets and business hours (no department, or a deleted one: no
    targets, so no timers)."""

    def __init__(self, departments: DepartmentRepository) -> None:
        self._departments = departments

    async def of(self, department_id: str | None) -> Targets:
        if department_id is None:
            return Targets()
        department = await self._departments.get(department_id)
        if department is None:
            return Targets()
        return Targets(
            first_response_minutes=department.sla.first_response_minutes,
            resolution_minutes=department.sla.resolution_minutes,
            business_hours=department.business_hours,
        )
