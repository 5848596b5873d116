"""Fakes of the ports callback requests use: their store, the contact book's lookup, the
departments, the company profile and the idempotency guard."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from api.domain.crm.callbacks import (
    CallbackFilter,
    CallbackPage,
    CallbackRequest,
    CallbackRequestRepository,
    CallbackStatus,
)
from api.domain.departments import Department, DepartmentPage, DepartmentRepository
from api.domain.jobs import IdempotencyGuard
from api.domain.tenants.profile import TenantProfile, TenantProfileRepository

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class FakeCallbackRequests(CallbackRequestRepository):
    """Requests by id (`cb<n>`), all in tenant `t1`; pages newest first by list position."""

    def __init__(self) -> None:
        self.rows: dict[str, CallbackRequest] = {}

    async def add(self, request: CallbackRequest) -> CallbackRequest:
        stored = request.model_copy(update={"id": f"cb{len(self.rows) + 1}", "tenant_id": "t1"})
        self.rows[stored.id or ""] = stored
        return stored

    async def get(self, request_id: str) -> CallbackRequest | None:
        return self.rows.get(request_id)

    async def move(
        self, request_id: str, statuses: frozenset[CallbackStatus], changes: dict[str, object]
    ) -> CallbackRequest | None:
        request = self.rows.get(request_id)
        if request is None or request.status not in statuses:
            return None
        self.rows[request_id] = request.model_copy(update=changes)
        return self.rows[request_id]

    async def page(self, filter: CallbackFilter, *, cursor: str | None, limit: int) -> CallbackPage:
        wanted = {k: v for k, v in filter.model_dump().items() if v is not None}
        items = [
            r for r in reversed(self.rows.values())
            if all(getattr(r, k) == v for k, v in wanted.items())
        ]  # fmt: skip
        start = int(cursor) if cursor else 0
        more = len(items) > start + limit
        return CallbackPage(
            items=items[start : start + limit], next_cursor=str(start + limit) if more else None
        )


class FakeCallbackContacts:
    """Contacts by phone: `{phone: contact id}`."""

    def __init__(self, **by_phone: str) -> None:
        self.by_number = by_phone
        self.asked: list[str] = []

    async def by_phone(self, phone: str) -> str | None:
        self.asked.append(phone)
        return self.by_number.get(phone)


class FakeDepartments(DepartmentRepository):
    """Departments by id."""

    def __init__(self, *departments: Department) -> None:
        self.rows = {d.id or "": d for d in departments}

    async def add(self, department: Department) -> Department:
        self.rows[department.id or ""] = department
        return department

    async def get(self, department_id: str) -> Department | None:
        return self.rows.get(department_id)

    async def get_many(self, department_ids: Iterable[str]) -> list[Department]:
        return [self.rows[i] for i in department_ids if i in self.rows]

    async def update(self, department_id: str, changes: dict[str, object]) -> Department | None:
        raise AssertionError("not used")

    async def delete(self, department_id: str) -> bool:
        return self.rows.pop(department_id, None) is not None

    async def search(self, *, skip: int, limit: int) -> DepartmentPage:
        items = list(self.rows.values())
        return DepartmentPage(items=items[skip : skip + limit], total=len(items))

    async def member_of(self, user_id: str) -> list[str]:
        return [i for i, d in self.rows.items() if user_id in d.member_ids]


def department(id: str, name: str, *member_ids: str) -> Department:
    return Department(
        id=id, tenant_id="t1", name=name, member_ids=list(member_ids),
        created_at=EPOCH, updated_at=EPOCH,
    )  # fmt: skip


class FakeProfiles(TenantProfileRepository):
    def __init__(self, default_country: str | None = None) -> None:
        self.profile = TenantProfile(default_country=default_country)

    async def get(self) -> TenantProfile | None:
        return self.profile

    async def save(self, profile: TenantProfile) -> TenantProfile:
        self.profile = profile
        return profile


class FakeGuard(IdempotencyGuard):
    """Keys held or done; `release` frees a key."""

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self.done: set[str] = set()

    async def claim(self, key: str, hold_seconds: int) -> bool:
        if key in self.taken:
            return False
        self.taken.add(key)
        return True

    async def complete(self, key: str, keep_seconds: int) -> None:
        self.done.add(key)

    async def release(self, key: str) -> None:
        self.taken.discard(key)
