"""Fakes of the department ports: the departments and the records routed to them."""

from __future__ import annotations

from collections.abc import Iterable

from api.domain.departments import (
    Department,
    DepartmentNameTaken,
    DepartmentPage,
    DepartmentRepository,
)


class FakeDepartments(DepartmentRepository):
    """Departments of one tenant by id (new ones get `d<n>`), names unique by case."""

    def __init__(self, *departments: Department) -> None:
        self.rows = {d.id or "": d for d in departments}
        self._next = len(self.rows)

    def _taken(self, name: str, but: str | None = None) -> bool:
        key = name.strip().casefold()
        return any(d.name.strip().casefold() == key and i != but for i, d in self.rows.items())

    async def add(self, department: Department) -> Department:
        if self._taken(department.name):
            raise DepartmentNameTaken("taken")
        self._next += 1
        stored = department.model_copy(update={"id": f"d{self._next}", "tenant_id": "t1"})
        self.rows[stored.id or ""] = stored
        return stored

    async def get(self, department_id: str) -> Department | None:
        return self.rows.get(department_id)

    async def get_many(self, department_ids: Iterable[str]) -> list[Department]:
        found = [self.rows[i] for i in dict.fromkeys(department_ids) if i in self.rows]
        return sorted(found, key=lambda d: (d.name.casefold(), d.id or ""))

    async def update(self, department_id: str, changes: dict[str, object]) -> Department | None:
        if department_id not in self.rows:
            return None
        name = changes.get("name")
        if isinstance(name, str) and self._taken(name, but=department_id):
            raise DepartmentNameTaken("taken")
        self.rows[department_id] = self.rows[department_id].model_copy(update=changes)
        return self.rows[department_id]

    async def delete(self, department_id: str) -> bool:
        return self.rows.pop(department_id, None) is not None

    async def search(self, *, skip: int, limit: int) -> DepartmentPage:
        found = sorted(self.rows.values(), key=lambda d: (d.name.casefold(), d.id or ""))
        return DepartmentPage(items=found[skip : skip + limit], total=len(found))

    async def member_of(self, user_id: str) -> list[str]:
        return sorted(i for i, d in self.rows.items() if user_id in d.member_ids)


class FakeRoutedRecords:
    """`RoutedRecords`: the kinds of record routed to each department, as a test sets them."""

    def __init__(self) -> None:
        self.routed: dict[str, list[str]] = {}

    async def kinds_routed_to(self, department_id: str) -> list[str]:
        return list(self.routed.get(department_id, []))
