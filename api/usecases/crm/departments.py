"""Departments: created, listed, read, changed and deleted.

Rules:
- A name has 1 to 100 characters (trimmed, inner spaces collapsed) and is unique in the
  tenant regardless of case (409 `department_name_taken`).
- Members are active users of the tenant, each once, at most 500 (422
  `invalid_department_members` naming the others).
- SLA targets (first response, resolution) are 1 to 525,600 minutes or None (no
  target); business hours follow `check_business_hours` (None: always open).
- Deleting a department that records (conversations, leads, tickets, callback requests)
  are still routed to is refused (409 `department_in_use`).
- Writes need `departments:manage`; reads `crm:read`. A department-limited user lists
  and reads only the departments they are a member of (another one is 404, as another
  tenant's is). Every change is audited (`department.created`, `.updated`, `.deleted`).
"""

from __future__ import annotations

from pydantic import BaseModel

from api.domain.business_hours import BusinessHours, check_business_hours
from api.domain.crm.departments import (
    DepartmentInUse,
    InvalidDepartmentMembers,
    RoutedRecords,
)
from api.domain.departments import (
    Department,
    DepartmentNotFound,
    DepartmentPage,
    DepartmentRepository,
    SlaTargets,
)
from api.domain.errors import FieldProblem, InvalidInput
from api.domain.identity.auth import Principal
from api.domain.identity.users import UserRepository
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.kernel.authority import audit_extra, dedupe, require_permission
from api.usecases.kernel.clock import stored_now
from api.usecases.kernel.names import group_name

DEPARTMENT_NOT_FOUND = "Department not found."
MAX_NAME_LENGTH = 100
MAX_MEMBERS = 500
AUDITED = ("name", "member_ids", "sla", "business_hours")


class DepartmentRules:
    """Checks shared by creating and changing a department."""

    def __init__(self, users: UserRepository) -> None:
        self._users = users

    @staticmethod
    def name(raw: str) -> str:
        return group_name(raw, "department", MAX_NAME_LENGTH)

    async def members(self, raw: list[str]) -> list[str]:
        ids = dedupe(raw)
        if len(ids) > MAX_MEMBERS:
            raise InvalidInput(
                f"A department has at most {MAX_MEMBERS} members.",
                [FieldProblem(("member_ids",), f"at most {MAX_MEMBERS}")],
            )
        refused: list[str] = []
        for user_id in ids:
            user = await self._users.get(user_id)
            if user is None or not user.is_active:
                refused.append(user_id)
        if refused:
            raise InvalidDepartmentMembers(
                "Department members must be active users of this tenant: "
                + ", ".join(refused) + ".",
                [FieldProblem(("member_ids",), f"not an active user: '{i}'") for i in refused],
            )  # fmt: skip
        return ids

    @staticmethod
    def business_hours(hours: BusinessHours | None) -> BusinessHours | None:
        if hours is not None:
            check_business_hours(hours)
        return hours


def _visible(principal: Principal, department_id: str) -> bool:
    """A department-limited user sees only the departments they belong to."""
    return principal.departments is None or department_id in principal.departments


async def existing_department(
    departments: DepartmentRepository, department_id: str, principal: Principal | None = None
) -> Department:
    found = None
    if principal is None or _visible(principal, department_id):
        found = await departments.get(department_id)
    if found is None:
        raise DepartmentNotFound(DEPARTMENT_NOT_FOUND)
    return found


def _audited(values: dict[str, object]) -> dict[str, object]:
    """Values as the audit log keeps them (value objects as JSON)."""
    return {
        k: v.model_dump(mode="json") if isinstance(v, SlaTargets | BusinessHours) else v
        for k, v in values.items()
    }


class CreateDepartment:
    """Create a department (`departments:manage`); see the module's rules."""

    def __init__(
        self, departments: DepartmentRepository, rules: DepartmentRules, auditor: Auditor
    ) -> None:
        self._departments = departments
        self._rules = rules
        self._auditor = auditor

    async def execute(
        self,
        principal: Principal,
        *,
        name: str,
        member_ids: list[str],
        sla: SlaTargets,
        business_hours: BusinessHours | None,
    ) -> Department:
        require_permission(principal, Permission.DEPARTMENTS_MANAGE)
        now = stored_now()
        department = await self._departments.add(
            Department(
                name=self._rules.name(name),
                member_ids=await self._rules.members(member_ids),
                sla=sla,
                business_hours=self._rules.business_hours(business_hours),
                created_at=now,
                updated_at=now,
            )
        )
        await self._auditor.record(
            "department.created", "department", department.id, actor_id=principal.user_id,
            changes=audit_extra(
                principal, _audited(department.model_dump(include=set(AUDITED)))
            ),
        )  # fmt: skip
        return department


class DepartmentChange(BaseModel):
    """What an update changes: the fields given (None leaves `name`, `member_ids` and
    `sla`; `business_hours` given as None means always open)."""

    name: str | None = None
    member_ids: list[str] | None = None
    sla: SlaTargets | None = None
    business_hours: BusinessHours | None = None


class UpdateDepartment:
    """Change a department (`departments:manage`): the fields given replace the stored
    ones (`business_hours` may be set to None: always open); see the module's rules."""

    def __init__(
        self, departments: DepartmentRepository, rules: DepartmentRules, auditor: Auditor
    ) -> None:
        self._departments = departments
        self._rules = rules
        self._auditor = auditor

    async def execute(
        self, principal: Principal, department_id: str, change: DepartmentChange
    ) -> Department:
        require_permission(principal, Permission.DEPARTMENTS_MANAGE)
        before = await existing_department(self._departments, department_id, principal)
        given = change.model_fields_set
        checked: dict[str, object] = {}
        if change.name is not None:
            checked["name"] = self._rules.name(change.name)
        if change.member_ids is not None:
            checked["member_ids"] = await self._rules.members(change.member_ids)
        if change.sla is not None:
            checked["sla"] = change.sla
        if "business_hours" in given:
            checked["business_hours"] = self._rules.business_hours(change.business_hours)
        changed = diff(
            _audited(before.model_dump(include=set(AUDITED))),
            _audited(checked),
        )
        if not changed:
            return before
        after = await self._departments.update(
            department_id, {k: v for k, v in checked.items() if k in changed}
        )
        if after is None:
            raise DepartmentNotFound(DEPARTMENT_NOT_FOUND)
        await self._auditor.record(
            "department.updated", "department", department_id, actor_id=principal.user_id,
            changes=audit_extra(principal, changed),
        )  # fmt: skip
        return after


class DeleteDepartment:
    """Delete a department (`departments:manage`) unless records are still routed to it
    (409 `department_in_use`, naming their kinds). Audited `department.deleted`."""

    def __init__(
        self, departments: DepartmentRepository, routed: RoutedRecords, auditor: Auditor
    ) -> None:
        self._departments = departments
        self._routed = routed
        self._auditor = auditor

    async def execute(self, principal: Principal, department_id: str) -> None:
        require_permission(principal, Permission.DEPARTMENTS_MANAGE)
        department = await existing_department(self._departments, department_id, principal)
        kinds = await self._routed.kinds_routed_to(department_id)
        if kinds:
            raise DepartmentInUse(
                "Records are still routed to this department (" + ", ".join(kinds) + "): "
                "route them elsewhere first."
            )
        if not await self._departments.delete(department_id):
            raise DepartmentNotFound(DEPARTMENT_NOT_FOUND)
        await self._auditor.record(
            "department.deleted", "department", department_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"name": department.name}),
        )  # fmt: skip


class ListDepartments:
    """The tenant's departments by name (`crm:read`); a department-limited user's own."""

    def __init__(self, departments: DepartmentRepository) -> None:
        self._departments = departments

    async def execute(self, principal: Principal, *, page: int, page_size: int) -> DepartmentPage:
        require_permission(principal, Permission.CRM_READ)
        skip = (page - 1) * page_size
        if principal.departments is None:
            return await self._departments.search(skip=skip, limit=page_size)
        own = sorted(
            await self._departments.get_many(principal.departments),
            key=lambda d: (d.name.casefold(), d.id or ""),
        )
        return DepartmentPage(items=own[skip : skip + page_size], total=len(own))


class GetDepartment:
    """One department (`crm:read`); another tenant's (or, for a department-limited user,
    one they are not a member of) is 404."""

    def __init__(self, departments: DepartmentRepository) -> None:
        self._departments = departments

    async def execute(self, principal: Principal, department_id: str) -> Department:
        require_permission(principal, Permission.CRM_READ)
        return await existing_department(self._departments, department_id, principal)
