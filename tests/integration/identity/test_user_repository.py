"""The user repositories against a real Mongo-wire server: tenant users and platform admins."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from api.common.clock import utcnow
from api.domain.errors import Conflict, TenantRequired
from api.domain.identity.users import User, UserPage
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.identity.users import (
    DUPLICATE_EMAIL,
    BeanieUserRepository,
    MongoPlatformUserRepository,
    PlatformUserDocument,
    UserDocument,
)

TENANT_A = TenantId("a" * 24)
TENANT_B = TenantId("b" * 24)
ROLE_X = "c" * 24
ROLE_Y = "d" * 24


@pytest.fixture
def users() -> BeanieUserRepository:
    return BeanieUserRepository()


def new_user(
    email: str = "ada@example.com", full_name: str = "Ada Lovelace", minutes: int = 0, **fields: Any
) -> User:
    """A user created `minutes` from now; other fields as given."""
    now = utcnow() + timedelta(minutes=minutes)
    base = {"tenant_id": None, "password_hash": "$argon2id$fake"}
    times = {"created_at": now, "updated_at": now}
    return User.model_validate(base | times | fields | {"email": email, "full_name": full_name})


async def add_all(repo: BeanieUserRepository, *people: User) -> list[User]:
    return [await repo.add(person) for person in people]


async def test_add_get_and_get_by_email(users: BeanieUserRepository) -> None:
    with tenant_context(TENANT_A):
        stored = await users.add(new_user(role_ids=[ROLE_X]))
        assert stored.id is not None
        by_id = await users.get(stored.id)
        by_email = await users.get_by_email("ada@example.com")
        assert await users.get_by_email("nobody@example.com") is None
        assert await users.get("not-an-id") is None

    assert by_id is not None and by_email is not None
    assert by_id.model_dump() == by_email.model_dump()
    assert by_id.tenant_id == TENANT_A and by_id.role_ids == [ROLE_X]
    assert by_id.full_name == "Ada Lovelace" and by_id.password_hash == "$argon2id$fake"
    assert by_id.created_at.tzinfo is not None
    raw = await UserDocument.get_pymongo_collection().find_one({"email": "ada@example.com"})
    assert raw is not None and raw["tenant_id"] == TENANT_A
    assert raw["name_lower"] == "ada lovelace"


async def test_update_keeps_the_search_name_in_sync(users: BeanieUserRepository) -> None:
    with tenant_context(TENANT_A):
        stored = await users.add(new_user())
        assert stored.id is not None
        updated = await users.update(stored.id, {"full_name": "Ada King", "is_active": False})
        assert [u.id for u in (await search(users, "king")).items] == [stored.id]
        assert (await search(users, "lovelace")).total == 0

    assert updated is not None
    assert (updated.full_name, updated.is_active) == ("Ada King", False)
    assert updated.updated_at > stored.updated_at
    assert abs(updated.created_at - stored.created_at) < timedelta(milliseconds=1)


async def test_update_refuses_identity_and_unknown_fields(users: BeanieUserRepository) -> None:
    with tenant_context(TENANT_A):
        stored = await users.add(new_user())
        assert stored.id is not None
        refused: list[dict[str, object]] = [
            {"tenant_id": TENANT_B},
            {"id": "x"},
            {"_id": "x"},
            {"name_lower": "x"},
            {"is_admin": True},
        ]
        for changes in refused:
            with pytest.raises(ValueError, match=r"cannot be changed|unknown"):
                await users.update(stored.id, changes)
        assert await users.update("e" * 24, {"full_name": "Ghost"}) is None
    raw = await UserDocument.get_pymongo_collection().find_one({})
    assert raw is not None and raw["tenant_id"] == TENANT_A and "is_admin" not in raw


async def test_delete(users: BeanieUserRepository) -> None:
    with tenant_context(TENANT_A):
        stored = await users.add(new_user())
        assert stored.id is not None
        assert await users.delete(stored.id) is True
        assert await users.delete(stored.id) is False
        assert await users.get(stored.id) is None


async def test_emails_are_unique_per_tenant(users: BeanieUserRepository) -> None:
    with tenant_context(TENANT_A):
        first = await users.add(new_user())
        other = await users.add(new_user("grace@example.com", "Grace Hopper"))
        with pytest.raises(Conflict, match=re.escape(DUPLICATE_EMAIL)):
            await users.add(new_user(full_name="Another Ada"))
        assert other.id is not None
        with pytest.raises(Conflict, match=re.escape(DUPLICATE_EMAIL)):
            await users.update(other.id, {"email": "ada@example.com"})
    with tenant_context(TENANT_B):
        elsewhere = await users.add(new_user())
    assert elsewhere.id != first.id and elsewhere.tenant_id == TENANT_B


async def search(
    repo: BeanieUserRepository,
    query: str | None = None,
    *,
    is_active: bool | None = None,
    role_id: str | None = None,
    skip: int = 0,
    limit: int = 50,
) -> UserPage:
    return await repo.search(
        query=query, is_active=is_active, role_id=role_id, skip=skip, limit=limit
    )


async def test_search_by_email_or_name_word_prefix(users: BeanieUserRepository) -> None:
    with tenant_context(TENANT_A):
        await add_all(
            users,
            new_user("maria@example.com", "Maria Ana Silva", minutes=1),
            new_user("anabel@example.com", "Bel Costa", minutes=2),
            new_user("jose@example.com", "José Banana", minutes=3),
        )

        async def names(query: str) -> list[str]:
            return [u.full_name for u in (await search(users, query)).items]

        assert await names("ana") == ["Maria Ana Silva", "Bel Costa"]  # word start, email
        assert await names("ANA") == ["Maria Ana Silva", "Bel Costa"]
        assert await names("silva") == ["Maria Ana Silva"]
        assert await names("maria ana") == ["Maria Ana Silva"]
        assert await names("ria") == []  # not a word start
        assert await names("jose") == ["José Banana"]  # accents do not matter
        assert await names("JOSÉ") == ["José Banana"]
        assert await names("  ") == ["Maria Ana Silva", "Bel Costa", "José Banana"]
        assert await names("maria@") == ["Maria Ana Silva"]


async def test_search_text_is_literal_never_a_pattern(users: BeanieUserRepository) -> None:
    with tenant_context(TENANT_A):
        await add_all(
            users,
            new_user("ada@example.com", "Ada Lovelace"),
            new_user("a.b@example.com", "Odd (Name) Here"),
        )
        for pattern in (".*", "a.", "^", "(", "[a-z]", "\\w", "ada|a"):
            found = await search(users, pattern)
            expected = {"a.": ["a.b@example.com"], "(": ["a.b@example.com"]}.get(pattern, [])
            assert [u.email for u in found.items] == expected, pattern


async def test_search_filters_paging_and_total(users: BeanieUserRepository) -> None:
    with tenant_context(TENANT_A):
        people = await add_all(
            users,
            *(
                new_user(
                    f"user{i}@example.com",
                    f"User {i}",
                    role_ids=[ROLE_X] if i % 2 == 0 else [ROLE_Y],
                    is_active=i != 3,
                    minutes=i,
                )
                for i in range(7)
            ),
        )
        page = await search(users, skip=2, limit=3)
        assert [u.id for u in page.items] == [p.id for p in people[2:5]]
        assert page.total == 7
        with_x = await search(users, role_id=ROLE_X)
        assert [u.email for u in with_x.items] == [f"user{i}@example.com" for i in (0, 2, 4, 6)]
        inactive = await search(users, is_active=False)
        assert [u.email for u in inactive.items] == ["user3@example.com"]
        both = await search(users, "user", role_id=ROLE_Y, is_active=True, limit=1)
        assert [u.email for u in both.items] == ["user1@example.com"] and both.total == 2
        assert await users.count_with_role(ROLE_X) == 4
        assert await users.count_with_role(ROLE_Y) == 3


async def test_remove_role_everywhere(users: BeanieUserRepository) -> None:
    with tenant_context(TENANT_B):
        theirs = await users.add(new_user("b@example.com", role_ids=[ROLE_X]))
    with tenant_context(TENANT_A):
        one, two, three = await add_all(
            users,
            new_user("one@example.com", role_ids=[ROLE_X, ROLE_Y]),
            new_user("two@example.com", role_ids=[ROLE_X]),
            new_user("three@example.com", role_ids=[ROLE_Y]),
        )
        affected = await users.remove_role_everywhere(ROLE_X)
        assert sorted(affected) == sorted([str(one.id), str(two.id)])
        assert await users.count_with_role(ROLE_X) == 0
        assert one.id is not None and three.id is not None
        assert (await users.get(one.id)).role_ids == [ROLE_Y]  # type: ignore[union-attr]
        assert (await users.get(three.id)).role_ids == [ROLE_Y]  # type: ignore[union-attr]
        assert await users.remove_role_everywhere(ROLE_X) == []
    with tenant_context(TENANT_B):
        assert theirs.id is not None
        assert (await users.get(theirs.id)).role_ids == [ROLE_X]  # type: ignore[union-attr]


async def test_another_tenant_can_neither_see_nor_change(users: BeanieUserRepository) -> None:
    with tenant_context(TENANT_A):
        mine = await users.add(
            new_user(role_ids=[ROLE_X], mfa_enabled=True, mfa_recovery_codes=["digest-1"])
        )
    assert mine.id is not None
    with tenant_context(TENANT_B):
        assert await users.get(mine.id) is None
        assert await users.get_by_email("ada@example.com") is None
        assert await users.update(mine.id, {"full_name": "Hijacked"}) is None
        assert await users.delete(mine.id) is False
        assert (await search(users)).total == 0
        assert await users.count_with_role(ROLE_X) == 0
        assert await users.remove_role_everywhere(ROLE_X) == []
        assert await users.spend_recovery_code(mine.id, "digest-1") is None
    with tenant_context(TENANT_A):
        kept = await users.get(mine.id)
        assert kept is not None and kept.mfa_recovery_codes == ["digest-1"]
    assert kept is not None and kept.full_name == "Ada Lovelace" and kept.role_ids == [ROLE_X]


async def test_adding_for_another_tenant_is_refused(users: BeanieUserRepository) -> None:
    with tenant_context(TENANT_A), pytest.raises(ValueError, match="another tenant"):
        await users.add(new_user(tenant_id=TENANT_B))
    assert await UserDocument.find_all().count() == 0


async def test_without_a_tenant_everything_is_refused(users: BeanieUserRepository) -> None:
    with tenant_context(TENANT_A):
        stored = await users.add(new_user(role_ids=[ROLE_X]))
    assert stored.id is not None
    user_id = stored.id
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: users.add(new_user("other@example.com")),
        lambda: users.get(user_id),
        lambda: users.get("not-an-id"),
        lambda: users.get_by_email("ada@example.com"),
        lambda: users.update(user_id, {"full_name": "X"}),
        lambda: users.update("not-an-id", {"full_name": "X"}),
        lambda: users.delete(user_id),
        lambda: users.delete("not-an-id"),
        lambda: search(users),
        lambda: users.count_with_role(ROLE_X),
        lambda: users.remove_role_everywhere(ROLE_X),
        lambda: users.spend_recovery_code(user_id, "digest"),
    ]
    for call in calls:
        with pytest.raises(TenantRequired):
            await call()
    raw = await UserDocument.get_pymongo_collection().find_one({})
    assert await UserDocument.find_all().count() == 1
    assert raw is not None and raw["full_name"] == "Ada Lovelace" and raw["role_ids"] == [ROLE_X]


async def test_a_recovery_code_is_spent_once_and_only_while_mfa_is_on(
    users: BeanieUserRepository,
) -> None:
    with tenant_context(TENANT_A):
        stored = await users.add(new_user(mfa_enabled=True, mfa_recovery_codes=["d1", "d2"]))
        assert stored.id is not None
        racing = await asyncio.gather(
            *(users.spend_recovery_code(stored.id, "d1") for _ in range(4))
        )
        spent = [user for user in racing if user is not None]
        assert len(spent) == 1 and spent[0].mfa_recovery_codes == ["d2"]
        assert await users.spend_recovery_code(stored.id, "unknown") is None
        assert await users.spend_recovery_code("not-an-id", "d2") is None
        await users.update(stored.id, {"mfa_enabled": False})
        assert await users.spend_recovery_code(stored.id, "d2") is None  # MFA is off
        left = await users.get(stored.id)
    assert left is not None and left.mfa_recovery_codes == ["d2"]
    admins = MongoPlatformUserRepository()
    admin = await admins.add(
        new_user("root@example.com", mfa_enabled=True, mfa_recovery_codes=["d1", "d2"])
    )
    assert admin.id is not None
    racing = await asyncio.gather(*(admins.spend_recovery_code(admin.id, "d2") for _ in range(4)))
    assert [u.mfa_recovery_codes for u in racing if u is not None] == [["d1"]]
    assert await admins.spend_recovery_code("not-an-id", "d1") is None


async def test_indexes_start_with_the_tenant() -> None:
    info = await UserDocument.get_pymongo_collection().index_information()
    keys = {name: [field for field, _ in spec["key"]] for name, spec in info.items()}
    assert keys["tenant_email_unique"] == ["tenant_id", "email"]
    assert info["tenant_email_unique"].get("unique") is True
    assert keys["tenant_roles"] == ["tenant_id", "role_ids"]
    assert keys["tenant_active"] == ["tenant_id", "is_active"]
    assert keys["tenant_name"] == ["tenant_id", "name_lower"]
    assert all(fields[0] in ("_id", "tenant_id") for fields in keys.values())


async def test_platform_admins() -> None:
    admins = MongoPlatformUserRepository()
    stored = await admins.add(new_user("root@example.com", "Root Admin"))
    assert stored.id is not None and stored.tenant_id is None
    fetched = await admins.get(stored.id)
    times = {"created_at", "updated_at"}
    assert fetched is not None
    assert fetched.model_dump(exclude=times) == stored.model_dump(exclude=times)
    by_email = await admins.get_by_email("root@example.com")
    assert by_email is not None and by_email.id == stored.id
    assert await admins.get("not-an-id") is None
    assert await admins.get_by_email("nobody@example.com") is None
    with pytest.raises(Conflict, match=re.escape(DUPLICATE_EMAIL)):
        await admins.add(new_user("root@example.com", "Root Again"))
    with pytest.raises(ValueError, match="no tenant"):
        await admins.add(new_user("t@example.com", tenant_id=TENANT_A))

    updated = await admins.update(stored.id, {"mfa_enabled": True})
    assert updated is not None and updated.mfa_enabled and updated.tenant_id is None
    with pytest.raises(ValueError, match="cannot be changed"):
        await admins.update(stored.id, {"tenant_id": TENANT_A})
    assert await admins.update("e" * 24, {"mfa_enabled": True}) is None

    # Platform admins live apart from tenant users, and need no tenant.
    assert await UserDocument.find_all().count() == 0
    assert await PlatformUserDocument.find_all().count() == 1
    with tenant_context(TENANT_A):
        assert await BeanieUserRepository().get_by_email("root@example.com") is None
    info = await PlatformUserDocument.get_pymongo_collection().index_information()
    assert info["email_unique"]["key"] == [("email", 1)] and info["email_unique"]["unique"]
