"""The base of repositories whose records are routed to departments (conversations, leads,
tickets, callback requests): the tenant scope of `TenantScopedRepository`, plus the
department scope of the current work (`api.domain.departments`).

Every verb of the tenant-scoped base goes through `scope` (finds, counts, updates, deletes,
bulk writes, aggregates) or `stamp` (inserts), so overriding those two limits them all: when
the work is limited to some departments, each filter gets `department_id ∈ those`, and an
insert routed elsewhere is refused. An explicit `department_id` in a filter is intersected
with the scope (a limited user asking for another department's records finds none).
"""

from __future__ import annotations

from typing import Any, TypeVar

from api.domain.departments import current_department_scope
from api.infrastructure.persistence.base.scoped import (
    TenantOwnedDocument,
    TenantScopedRepository,
)
from api.infrastructure.persistence.base.writes import Filter

DEPARTMENT_FIELD = "department_id"


class DepartmentOwnedDocument(TenantOwnedDocument):
    """A tenant-owned record that may be routed to one of the tenant's departments."""

    department_id: str | None = None


DD = TypeVar("DD", bound=DepartmentOwnedDocument)


def limit_to_departments(filter: dict[str, Any], scope: frozenset[str]) -> dict[str, Any]:
    """`filter` with its `department_id` condition narrowed to `scope`.

    A plain value (an id, or None) stays when it is in the scope and else matches nothing;
    an `$in` list is intersected; no condition becomes `$in` the scope. Other operators
    cannot be narrowed safely and are refused.
    """
    allowed = sorted(scope)
    if DEPARTMENT_FIELD not in filter:
        return {**filter, DEPARTMENT_FIELD: {"$in": allowed}}
    wanted = filter[DEPARTMENT_FIELD]
    if isinstance(wanted, dict):
        if set(wanted) != {"$in"}:
            raise ValueError("a department-scoped filter may only name department_id or $in")
        narrowed = [d for d in wanted["$in"] if d in scope]
        return {**filter, DEPARTMENT_FIELD: {"$in": narrowed}}
    if wanted in scope:
        return dict(filter)
    return {**filter, DEPARTMENT_FIELD: {"$in": []}}


class DepartmentScopedRepository(TenantScopedRepository[DD]):
    """CRUD on one department-routed document class, within the current tenant and the
    current department scope."""

    def scope(self, filter: Filter | None = None) -> dict[str, Any]:
        scoped = super().scope(filter)
        departments = current_department_scope()
        if departments is None:
            return scoped
        return limit_to_departments(scoped, departments)

    def stamp(self, document: DD) -> DD:
        departments = current_department_scope()
        if departments is not None and document.department_id not in departments:
            raise ValueError("cannot insert a record routed outside the department scope")
        return super().stamp(document)
