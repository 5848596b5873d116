"""The role repository against a real Mongo-wire server, within tenants."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest

from api.common.clock import utcnow
from api.domain.errors import Conflict, TenantRequired
from api.domain.identity.roles import Role
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.identity.roles import (
    DUPLICATE_NAME,
    BeanieRoleRepository,
    RoleDocument,
)

TENANT_A = TenantId("a" * 24)
TENANT_B = TenantId("b" * 24)


@pytest.fixture
def roles() -> BeanieRoleRepository:
    return BeanieRoleRepository()


def new_role(name: str = "Support", **fields: object) -> Role:
    now = utcnow()
    return Role.model_validate(
        {"name": name, "permissions": ["chat.read"], "created_at": now, "updated_at": now} | fields
    )


async def test_add_get_and_get_by_name(roles: BeanieRoleRepository) -> None:
    with tenant_context(TENANT_A):
        stored = await roles.add(new_role(description="Front line", inherits=["c" * 24]))
        assert stored.id is not None
        by_id = await roles.get(stored.id)
        by_name = await roles.get_by_name("  SUPPORT ")
        assert await roles.get_by_name("Sales") is None
        assert await roles.get("not-an-id") is None

    assert by_id is not None and by_name is not None
    assert by_id.model_dump() == by_name.model_dump()
    assert (by_id.name, by_id.description, by_id.tenant_id) == ("Support", "Front line", TENANT_A)
    assert (by_id.permissions, by_id.inherits, by_id.system) == (["chat.read"], ["c" * 24], False)
    raw = await RoleDocument.get_pymongo_collection().find_one({})
    assert raw is not None and raw["tenant_id"] == TENANT_A and raw["name_lower"] == "support"


async def test_all_is_sorted_by_name_regardless_of_case(roles: BeanieRoleRepository) -> None:
    with tenant_context(TENANT_A):
        for name in ("owner", "Admin", "billing", "Support"):
            await roles.add(new_role(name))
        assert [r.name for r in await roles.all()] == ["Admin", "billing", "owner", "Support"]
    with tenant_context(TENANT_B):
        assert await roles.all() == []


async def test_update(roles: BeanieRoleRepository) -> None:
    with tenant_context(TENANT_A):
        stored = await roles.add(new_role())
        assert stored.id is not None
        updated = await roles.update(stored.id, {"name": "Help Desk", "permissions": ["a.b"]})
        assert await roles.get_by_name("help desk") is not None
        assert await roles.get_by_name("support") is None
        assert await roles.update("e" * 24, {"name": "Ghost"}) is None
        refused: list[dict[str, object]] = [
            {"tenant_id": TENANT_B},
            {"id": "x"},
            {"name_lower": "x"},
            {"x": 1},
        ]
        for changes in refused:
            with pytest.raises(ValueError, match=r"cannot be changed|unknown"):
                await roles.update(stored.id, changes)

    assert updated is not None
    assert (updated.name, updated.permissions) == ("Help Desk", ["a.b"])
    assert updated.updated_at > stored.updated_at


async def test_delete(roles: BeanieRoleRepository) -> None:
    with tenant_context(TENANT_A):
        stored = await roles.add(new_role())
        assert stored.id is not None
        assert await roles.delete(stored.id) is True
        assert await roles.delete(stored.id) is False
        assert await roles.get(stored.id) is None


async def test_names_are_unique_per_tenant_regardless_of_case(
    roles: BeanieRoleRepository,
) -> None:
    with tenant_context(TENANT_A):
        await roles.add(new_role("Support"))
        with pytest.raises(Conflict, match=re.escape(DUPLICATE_NAME)):
            await roles.add(new_role("SUPPORT"))
        other = await roles.add(new_role("Sales"))
        assert other.id is not None
        with pytest.raises(Conflict, match=re.escape(DUPLICATE_NAME)):
            await roles.update(other.id, {"name": "support"})
        renamed = await roles.update(other.id, {"name": "SALES"})  # its own name, new case
        assert renamed is not None and renamed.name == "SALES"
    with tenant_context(TENANT_B):
        elsewhere = await roles.add(new_role("support"))
    assert elsewhere.tenant_id == TENANT_B


async def test_another_tenant_can_neither_see_nor_change(roles: BeanieRoleRepository) -> None:
    with tenant_context(TENANT_A):
        mine = await roles.add(new_role())
    assert mine.id is not None
    with tenant_context(TENANT_B):
        assert await roles.get(mine.id) is None
        assert await roles.get_by_name("Support") is None
        assert await roles.all() == []
        assert await roles.update(mine.id, {"name": "Hijacked"}) is None
        assert await roles.delete(mine.id) is False
        with pytest.raises(ValueError, match="another tenant"):
            await roles.add(new_role("Smuggled", tenant_id=TENANT_A))
    with tenant_context(TENANT_A):
        kept = await roles.get(mine.id)
        assert [r.name for r in await roles.all()] == ["Support"]
    assert kept is not None and kept.name == "Support"


async def test_without_a_tenant_everything_is_refused(roles: BeanieRoleRepository) -> None:
    with tenant_context(TENANT_A):
        stored = await roles.add(new_role())
    assert stored.id is not None
    role_id = stored.id
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: roles.add(new_role("Other")),
        lambda: roles.get(role_id),
        lambda: roles.get("not-an-id"),
        lambda: roles.get_by_name("Support"),
        lambda: roles.all(),
        lambda: roles.update(role_id, {"name": "X"}),
        lambda: roles.delete(role_id),
        lambda: roles.delete("not-an-id"),
    ]
    for call in calls:
        with pytest.raises(TenantRequired):
            await call()
    assert await RoleDocument.find_all().count() == 1
    raw = await RoleDocument.get_pymongo_collection().find_one({})
    assert raw is not None and raw["name"] == "Support"


async def test_the_unique_index_starts_with_the_tenant() -> None:
    info = await RoleDocument.get_pymongo_collection().index_information()
    assert info["tenant_name_unique"]["key"] == [("tenant_id", 1), ("name_lower", 1)]
    assert info["tenant_name_unique"]["unique"] is True
    assert all(spec["key"][0][0] in ("_id", "tenant_id") for spec in info.values())
