"""Departments' use cases with fakes: names trimmed and unique by case, members active
users of the tenant, SLA targets in range, business hours checked, a department in use
not deleted, writes audited, and a department-limited user seeing only their own."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.domain.business_hours import BusinessHours, TimeSpan, Weekday
from api.domain.crm.departments import DepartmentInUse, InvalidDepartmentMembers
from api.domain.departments import DepartmentNameTaken, DepartmentNotFound, SlaTargets
from api.domain.errors import Forbidden, InvalidInput
from api.domain.identity.auth import Principal
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.crm.departments import (
    CreateDepartment,
    DeleteDepartment,
    DepartmentChange,
    DepartmentRules,
    GetDepartment,
    ListDepartments,
    UpdateDepartment,
)
from api.usecases.kernel.auditor import Auditor
from tests.fakes.audit import FakeAuditLog
from tests.fakes.departments import FakeDepartments, FakeRoutedRecords
from tests.fakes.identity import FakeUsers
from tests.support.identity import TENANT, principal, user

MANAGER = principal("boss", {"departments:manage", "crm:read"})
READER = principal("ada", {"crm:read"})
NINE_TO_FIVE = BusinessHours(
    timezone="Europe/Berlin", days={Weekday.MON: [TimeSpan(start="09:00", end="17:00")]}
)


class Desk:
    def __init__(self) -> None:
        self.users = FakeUsers(user("boss", []), user("ada", []), user("gone", [], active=False))
        self.departments = FakeDepartments()
        self.routed = FakeRoutedRecords()
        self.audit = FakeAuditLog()
        rules = DepartmentRules(self.users)
        auditor = Auditor(self.audit)
        self.create = CreateDepartment(self.departments, rules, auditor)
        self.update = UpdateDepartment(self.departments, rules, auditor)
        self.delete = DeleteDepartment(self.departments, self.routed, auditor)
        self.list = ListDepartments(self.departments)
        self.get = GetDepartment(self.departments)

    async def add(self, name: str, members: list[str] | None = None) -> str:
        made = await self.create.execute(
            MANAGER, name=name, member_ids=members or [], sla=SlaTargets(), business_hours=None
        )
        assert made.id is not None
        return made.id


@pytest.fixture
def desk() -> Desk:
    return Desk()


@pytest.fixture(autouse=True)
def _tenant() -> object:
    with tenant_context(TenantId(TENANT)):
        yield


def limited(user_id: str, departments: set[str]) -> Principal:
    return principal(user_id, {"crm:read", "departments:manage"}).model_copy(
        update={"departments": frozenset(departments)}
    )


async def test_created_trimmed_with_members_once_and_audited(desk: Desk) -> None:
    made = await desk.create.execute(
        MANAGER, name="  Sales \t EU ", member_ids=["ada", "boss", "ada"],
        sla=SlaTargets(first_response_minutes=30, resolution_minutes=480),
        business_hours=NINE_TO_FIVE,
    )  # fmt: skip
    assert made.name == "Sales EU" and made.member_ids == ["ada", "boss"]
    assert made.sla.first_response_minutes == 30 and made.business_hours == NINE_TO_FIVE
    entry = desk.audit.entries[0]
    assert entry.action == "department.created" and entry.resource_id == made.id
    assert entry.changes["sla"] == {"first_response_minutes": 30, "resolution_minutes": 480}


async def test_names_are_unique_by_case_and_bounded(desk: Desk) -> None:
    await desk.add("Support")
    with pytest.raises(DepartmentNameTaken):
        await desk.add(" SUPPORT ")
    for bad in ("   ", "x" * 101):
        with pytest.raises(InvalidInput) as raised:
            await desk.add(bad)
        assert raised.value.problems[0].loc == ("name",)


@pytest.mark.parametrize("members", [["nobody"], ["gone"], ["ada", "nobody", "gone"]])
async def test_members_are_active_users_of_the_tenant(desk: Desk, members: list[str]) -> None:
    with pytest.raises(InvalidDepartmentMembers) as raised:
        await desk.add("Support", members)
    assert raised.value.code == "invalid_department_members"
    refused = [m for m in members if m != "ada"]
    assert [p.msg for p in raised.value.problems] == [f"not an active user: '{m}'" for m in refused]
    assert desk.departments.rows == {}


def test_sla_targets_are_one_minute_to_a_year() -> None:
    assert SlaTargets(first_response_minutes=1, resolution_minutes=525_600).resolution_minutes
    for bad in (0, -5, 525_601):
        with pytest.raises(ValidationError):
            SlaTargets(first_response_minutes=bad, resolution_minutes=None)


async def test_bad_business_hours_are_refused_with_their_code(desk: Desk) -> None:
    overlapping = BusinessHours(
        timezone="Europe/Berlin",
        days={Weekday.MON: [TimeSpan(start="09:00", end="17:00"),
                            TimeSpan(start="16:00", end="18:00")]},
    )  # fmt: skip
    for hours, code in (
        (BusinessHours(timezone="Mars/Olympus"), "invalid_timezone"),
        (BusinessHours(timezone="UTC", days={Weekday.MON: [TimeSpan(start="9", end="17:00")]}),
         "invalid_time_span"),
        (overlapping, "overlapping_time_spans"),
    ):  # fmt: skip
        with pytest.raises(InvalidInput) as raised:
            await desk.create.execute(
                MANAGER, name="Support", member_ids=[], sla=SlaTargets(), business_hours=hours
            )
        assert raised.value.code == code
    made = await desk.add("Support")
    with pytest.raises(InvalidInput):
        await desk.update.execute(
            MANAGER, made, DepartmentChange(business_hours=BusinessHours(timezone="Nowhere"))
        )


async def test_update_changes_what_is_given_and_audits_the_difference(desk: Desk) -> None:
    sales = await desk.add("Sales", ["ada"])
    after = await desk.update.execute(
        MANAGER, sales,
        DepartmentChange(name="Sales EU", sla=SlaTargets(first_response_minutes=15),
                         business_hours=NINE_TO_FIVE),
    )  # fmt: skip
    assert after.name == "Sales EU" and after.member_ids == ["ada"]
    assert after.sla.first_response_minutes == 15 and after.business_hours == NINE_TO_FIVE
    changes = desk.audit.entries[-1].changes
    assert desk.audit.entries[-1].action == "department.updated"
    assert changes["name"] == {"from": "Sales", "to": "Sales EU"}
    assert set(changes) >= {"name", "sla", "business_hours"} and "member_ids" not in changes
    # business_hours given as None: always open again; nothing else moves
    opened = await desk.update.execute(MANAGER, sales, DepartmentChange(business_hours=None))
    assert opened.business_hours is None and opened.name == "Sales EU"
    recorded = len(desk.audit.entries)
    same = await desk.update.execute(MANAGER, sales, DepartmentChange(name=" Sales  EU"))
    assert same == opened and len(desk.audit.entries) == recorded  # nothing changed
    with pytest.raises(DepartmentNotFound):
        await desk.update.execute(MANAGER, "d404", DepartmentChange(name="X"))


async def test_a_department_in_use_is_not_deleted(desk: Desk) -> None:
    sales = await desk.add("Sales")
    desk.routed.routed[sales] = ["conversations", "tickets"]
    with pytest.raises(DepartmentInUse) as raised:
        await desk.delete.execute(MANAGER, sales)
    assert raised.value.code == "department_in_use"
    assert "conversations, tickets" in raised.value.detail
    assert sales in desk.departments.rows
    desk.routed.routed[sales] = []
    await desk.delete.execute(MANAGER, sales)
    assert desk.departments.rows == {}
    assert desk.audit.actions()[-1] == "department.deleted"
    with pytest.raises(DepartmentNotFound):
        await desk.delete.execute(MANAGER, sales)


async def test_permissions_are_checked_first(desk: Desk) -> None:
    sales = await desk.add("Sales")
    nobody = principal("max", set())
    with pytest.raises(Forbidden):
        await desk.create.execute(
            READER, name="X", member_ids=[], sla=SlaTargets(), business_hours=None
        )
    with pytest.raises(Forbidden):
        await desk.update.execute(READER, sales, DepartmentChange(name="X"))
    with pytest.raises(Forbidden):
        await desk.delete.execute(READER, sales)
    with pytest.raises(Forbidden):
        await desk.list.execute(nobody, page=1, page_size=20)
    with pytest.raises(Forbidden):
        await desk.get.execute(nobody, sales)


async def test_a_limited_user_sees_and_manages_only_their_departments(desk: Desk) -> None:
    sales = await desk.add("Sales", ["ada"])
    support = await desk.add("Support")
    billing = await desk.add("Billing", ["ada"])
    everyone = await desk.list.execute(READER, page=1, page_size=20)
    assert [d.name for d in everyone.items] == ["Billing", "Sales", "Support"]
    ada = limited("ada", {sales, billing})
    own = await desk.list.execute(ada, page=1, page_size=1)
    assert [d.name for d in own.items] == ["Billing"] and own.total == 2
    assert (await desk.get.execute(ada, sales)).name == "Sales"
    with pytest.raises(DepartmentNotFound):
        await desk.get.execute(ada, support)
    with pytest.raises(DepartmentNotFound):
        await desk.update.execute(ada, support, DepartmentChange(name="Mine"))
    with pytest.raises(DepartmentNotFound):
        await desk.delete.execute(ada, support)
