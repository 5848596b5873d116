"""Departments as the CRM manages them: what refuses a change, and the port that tells
whether records are still routed to a department.

The department itself (`Department`, `SlaTargets`, `DepartmentRepository`) and the
department scope live in `api.domain.departments` (the core every context shares).
"""

from __future__ import annotations

from typing import Protocol

from api.domain.errors import Conflict, InvalidInput


class DepartmentInUse(Conflict):
    """Records (conversations, leads, tickets, callback requests) are still routed to the
    department: route them elsewhere before deleting it."""

    code = "department_in_use"
    title = "Department in use"


class InvalidDepartmentMembers(InvalidInput):
    """Members must be active users of the tenant."""

    code = "invalid_department_members"
    title = "Invalid department members"


class RoutedRecords(Protocol):
    """The records of the current tenant routed to a department, across every context
    that routes records (conversations, leads, tickets, callback requests)."""

    async def kinds_routed_to(self, department_id: str) -> list[str]:
        """The kinds of record (`conversations`, `leads`, `tickets`, `callback_requests`)
        of which at least one names `department_id`; empty when none does."""
        ...
