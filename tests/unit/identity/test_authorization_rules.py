"""The authorisation rules of user and role management, as pure functions and through the
use cases with hand-written fakes of their ports (`tests.fakes`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.domain.errors import Conflict, Forbidden, InvalidInput
from api.domain.identity.users import User
from api.domain.permissions import TENANT_PERMISSIONS
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.identity.create_role import CreateRole
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import (
    RoleBook,
    check_can_grant,
    check_keeps_an_owner,
    weakened_roles,
)
from tests.support.identity import TENANT, World, principal, role, system_roles, user


@pytest.fixture(autouse=True)
def _in_tenant() -> Iterator[None]:
    with tenant_context(TenantId(TENANT)):
        yield


# -- pure rules ------------------------------------------------------------------------------


def test_granting_needs_every_permission_and_names_the_missing_ones() -> None:
    check_can_grant({"users:read", "audit:read"}, {"users:read"})
    check_can_grant(set(), set())
    with pytest.raises(Forbidden) as caught:
        check_can_grant({"users:read"}, {"users:read", "audit:read", "ai:use"})
    assert caught.value.detail.endswith("ai:use, audit:read.")


@pytest.mark.parametrize(
    ("was_active_owner", "stays_owner", "active_owners", "refused"),
    [
        (True, False, 1, True),  # the last one
        (True, False, 0, True),  # (counted before the change: never fewer than itself)
        (True, False, 2, False),  # another remains
        (True, True, 1, False),  # keeps the role
        (False, False, 1, False),  # not an active owner: nothing to lose
    ],
)
def test_a_tenant_keeps_an_active_owner(
    was_active_owner: bool, stays_owner: bool, active_owners: int, refused: bool
) -> None:
    def change() -> None:
        check_keeps_an_owner(
            was_active_owner=was_active_owner, stays_owner=stays_owner, active_owners=active_owners
        )

    if refused:
        with pytest.raises(Conflict):
            change()
    else:
        change()


def test_role_book_resolves_inheritance_and_refuses_unknown_ids() -> None:
    book = RoleBook(
        [
            role("base", ["users:read"]),
            role("mid", ["ai:use"], ["base"]),
            role("top", [], ["mid", "ghost"]),
        ]
    )
    assert book.effective(["top"]) == {"users:read", "ai:use"}
    assert book.known(["top", "base", "top"], "role_ids") == ["top", "base"]
    with pytest.raises(InvalidInput) as caught:
        book.known(["base", "nope", "ghost"], "role_ids")
    assert "nope" in caught.value.detail and "ghost" in caught.value.detail
    assert [p.loc for p in caught.value.problems] == [("role_ids",), ("role_ids",)]
    assert [r.id for r in book.inheritors("base")] == ["mid"]


def test_only_the_system_owner_role_makes_an_owner() -> None:
    book = RoleBook(system_roles())
    assert book.owner_role_id == "owner"
    assert book.is_active_owner(user("a", ["owner"]))
    assert not book.is_active_owner(user("b", ["owner"], active=False))
    assert not book.is_active_owner(user("c", ["admin"]))
    assert RoleBook([role("owner", [])]).owner_role_id is None  # not a system role


def test_narrowing_a_role_weakens_it_and_its_inheritors_only() -> None:
    before = RoleBook(
        [
            role("base", ["users:read", "ai:use"]),
            role("derived", [], ["base"]),
            role("other", ["users:read"]),
        ]
    )
    narrowed = before.with_role(role("base", ["ai:use"]))
    assert sorted(weakened_roles(before, narrowed)) == ["base", "derived"]
    widened = before.with_role(role("base", ["users:read", "ai:use", "files:read"]))
    assert weakened_roles(before, widened) == []


# -- the use cases, with fakes -------------------------------------------------------------

MANAGER = {
    "users:manage_roles",
    "users:activate",
    "roles:write",
    "ai:use",
    "files:read",
    "files:write",
}


def manager_world(*others: User) -> World:
    return World(
        user("manager", ["manager"]),
        *others,
        extra_roles=[
            role("manager", sorted(MANAGER)),
            role("auditor", ["audit:read"]),
            role("wrapper", [], ["auditor"]),
        ],
    )


async def test_assigning_a_role_beyond_your_permissions_is_refused() -> None:
    world = manager_world(user("target", ["member"]))
    for role_ids in (["admin"], ["auditor"], ["wrapper"], ["member", "wrapper"]):
        with pytest.raises(Forbidden):
            await world.set_roles().execute(principal("manager", MANAGER), "target", role_ids)
    assert world.users.rows["target"].role_ids == ["member"]
    assert world.revocations.sessions == [] and world.audit.entries == []


async def test_nobody_changes_their_own_roles() -> None:
    world = manager_world()
    with pytest.raises(Forbidden):
        await world.set_roles().execute(principal("manager", MANAGER), "manager", ["member"])


async def test_a_stale_token_does_not_grant_what_the_roles_no_longer_give() -> None:
    """The token still says `audit:read`, but the manager's roles no longer grant it."""
    world = manager_world(user("target", ["member"]))
    stale = principal("manager", MANAGER | {"audit:read"})
    with pytest.raises(Forbidden):
        await world.set_roles().execute(stale, "target", ["auditor"])


async def test_a_role_change_ends_the_targets_sessions_and_is_audited() -> None:
    world = manager_world(user("target", ["member"]))
    world.sessions.active[TENANT, "target"] = ["s1", "s2"]
    updated = await world.set_roles().execute(principal("manager", MANAGER), "target", ["manager"])
    assert updated.role_ids == ["manager"]
    assert world.revocations.sessions == ["s1", "s2"]
    [entry] = world.audit.entries
    assert entry.action == "user.roles_changed" and entry.actor_id == "manager"
    assert entry.changes == {"role_ids": {"from": ["member"], "to": ["manager"]}}


async def test_the_last_active_owner_cannot_be_demoted_or_deactivated() -> None:
    world = World(
        user("boss", ["owner"]), user("admin", ["admin"]), user("old", ["owner"], active=False)
    )
    actor = principal("admin", TENANT_PERMISSIONS)
    with pytest.raises(Conflict):
        await world.set_roles().execute(actor, "boss", ["admin"])
    with pytest.raises(Conflict):
        await world.deactivate().execute(actor, "boss")
    assert world.users.rows["boss"].is_active and world.revocations.sessions == []
    await world.users.update("old", {"is_active": True})
    deactivated = await world.deactivate().execute(actor, "boss")
    assert deactivated.is_active is False and world.revocations.sessions == ["s-boss"]


async def test_a_role_cannot_grant_through_inheritance_what_its_creator_lacks() -> None:
    world = manager_world()
    create = CreateRole(world.roles, world.authority, Auditor(world.audit))
    actor = principal("manager", MANAGER)
    with pytest.raises(Forbidden) as caught:
        await create.execute(
            actor, name="sneaky", description="", permissions=[], inherits=["wrapper"]
        )
    assert "audit:read" in caught.value.detail
    made = await create.execute(
        actor, name="fine", description="", permissions=["ai:use"], inherits=["member"]
    )
    assert made.permissions == ["ai:use"] and made.inherits == ["member"]
