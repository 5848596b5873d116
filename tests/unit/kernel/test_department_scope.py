"""The department scope: who is limited, and how a filter is narrowed to it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.domain.departments import (
    current_department_scope,
    department_scope,
    in_department_scope,
    set_department_scope,
)
from api.domain.identity.roles import Role, departments_only
from api.infrastructure.persistence.base.department_scoped import limit_to_departments

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def role(role_id: str, *, limited: bool) -> Role:
    return Role(id=role_id, name=role_id, departments_only=limited, created_at=NOW, updated_at=NOW)


ROLES = {
    "sales": role("sales", limited=True),
    "support": role("support", limited=True),
    "lead": role("lead", limited=False),
}


def test_a_user_is_limited_only_when_every_role_they_hold_is() -> None:
    assert departments_only(["sales"], ROLES) is True
    assert departments_only(["sales", "support"], ROLES) is True
    assert departments_only(["sales", "lead"], ROLES) is False  # one unlimited role lifts it
    assert departments_only([], ROLES) is False
    assert departments_only(["gone"], ROLES) is False  # unknown roles are ignored
    assert departments_only(["gone", "sales"], ROLES) is True


def test_the_scope_is_unlimited_by_default_and_restored_after_a_block() -> None:
    assert current_department_scope() is None
    assert in_department_scope(None) and in_department_scope("d1")
    with department_scope(["d1"]):
        assert current_department_scope() == frozenset({"d1"})
        assert in_department_scope("d1")
        assert not in_department_scope("d2") and not in_department_scope(None)
        with department_scope([]):
            assert not in_department_scope("d1")
        assert current_department_scope() == frozenset({"d1"})
    assert current_department_scope() is None


def test_a_scope_set_inside_a_block_ends_with_the_block() -> None:
    with department_scope(None):
        set_department_scope(["d9"])
        assert current_department_scope() == frozenset({"d9"})
    assert current_department_scope() is None


def test_a_filter_without_a_department_gets_the_scope() -> None:
    scope = frozenset({"d2", "d1"})
    assert limit_to_departments({"tenant_id": "t"}, scope) == {
        "tenant_id": "t",
        "department_id": {"$in": ["d1", "d2"]},
    }


def test_an_explicit_department_is_kept_only_inside_the_scope() -> None:
    scope = frozenset({"d1"})
    assert limit_to_departments({"department_id": "d1"}, scope) == {"department_id": "d1"}
    assert limit_to_departments({"department_id": "d2"}, scope) == {"department_id": {"$in": []}}
    assert limit_to_departments({"department_id": None}, scope) == {"department_id": {"$in": []}}
    assert limit_to_departments({"department_id": {"$in": ["d1", "d2"]}}, scope) == {
        "department_id": {"$in": ["d1"]}
    }


def test_operators_that_cannot_be_narrowed_are_refused() -> None:
    with pytest.raises(ValueError, match="department_id"):
        limit_to_departments({"department_id": {"$ne": "d2"}}, frozenset({"d1"}))
