"""Departments: the parts of a tenant's business that conversations, tickets, leads and
callback requests are routed to (Sales, Support, Billing), each with its members, its
business hours and its service-level targets.

A role can be limited to its holders' departments (`Role.departments_only`): a user whose
every role is limited sees only the records routed to the departments they are a member of.
That limit is the *department scope* of a piece of work, carried in a context variable like
the tenant: the HTTP authentication sets it per request from the caller's memberships, and
the repositories of department-routed records add it to every query, so a route that forgets
it still cannot leak another department's records. No scope (None) means unlimited: jobs,
and users with at least one unlimited role.

Rules of the scope: a limited user sees a record only when its `department_id` is one of
theirs; records routed nowhere (`department_id` None) are not theirs either. A limited user
with no department sees none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from api.domain.business_hours import BusinessHours
from api.domain.errors import Conflict, NotFound

MAX_SLA_MINUTES = 525_600  # a year


class SlaTargets(BaseModel):
    """Service-level targets in open (business-hours) minutes; None: no target."""

    model_config = ConfigDict(frozen=True)

    first_response_minutes: int | None = Field(default=None, ge=1, le=MAX_SLA_MINUTES)
    resolution_minutes: int | None = Field(default=None, ge=1, le=MAX_SLA_MINUTES)


class Department(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    name: str
    member_ids: list[str] = Field(default_factory=list)
    sla: SlaTargets = Field(default_factory=SlaTargets)
    business_hours: BusinessHours | None = None  # None: always open
    created_at: datetime
    updated_at: datetime


class DepartmentPage(BaseModel):
    items: list[Department]
    total: int


class DepartmentNotFound(NotFound):
    """No department of the current tenant has this id."""

    code = "department_not_found"
    title = "Department not found"


class DepartmentNameTaken(Conflict):
    """Another department of the tenant has this name (compared without case)."""

    code = "department_name_taken"
    title = "Department name taken"


class DepartmentRepository(Protocol):
    """Departments of the current tenant."""

    async def add(self, department: Department) -> Department:
        """Store a new department; `DepartmentNameTaken` when the name (any case) is taken."""
        ...

    async def get(self, department_id: str) -> Department | None: ...

    async def get_many(self, department_ids: Iterable[str]) -> list[Department]:
        """The departments among these ids (unknown and malformed ids are left out)."""
        ...

    async def update(self, department_id: str, changes: dict[str, object]) -> Department | None:
        """Set `name`, `member_ids`, `sla` and/or `business_hours` (and `updated_at`); None
        when absent; `DepartmentNameTaken` when the new name is taken."""
        ...

    async def delete(self, department_id: str) -> bool: ...

    async def search(self, *, skip: int, limit: int) -> DepartmentPage:
        """By name (case-insensitively), and the total."""
        ...

    async def member_of(self, user_id: str) -> list[str]:
        """Ids of the departments `user_id` is a member of."""
        ...


# -- the department scope ------------------------------------------------------------------

DepartmentScope = frozenset[str] | None

_current_scope: ContextVar[DepartmentScope] = ContextVar("parley_department_scope", default=None)


def current_department_scope() -> DepartmentScope:
    """The departments the current work is limited to; None when it is not limited."""
    return _current_scope.get()


def set_department_scope(departments: Iterable[str] | None) -> None:
    """Limit the rest of the current task (a request) to `departments` (None: unlimited)."""
    _current_scope.set(None if departments is None else frozenset(departments))


@contextmanager
def department_scope(departments: Iterable[str] | None) -> Iterator[None]:
    """Run a block limited to `departments` (None: unlimited), restoring the outer scope."""
    token = _current_scope.set(None if departments is None else frozenset(departments))
    try:
        yield
    finally:
        _current_scope.reset(token)


def in_department_scope(department_id: str | None) -> bool:
    """Whether a record routed to `department_id` is within the current scope."""
    scope = _current_scope.get()
    return scope is None or (department_id is not None and department_id in scope)
