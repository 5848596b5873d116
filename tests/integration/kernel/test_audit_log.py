"""The audit log against a real Mongo-wire server: append-only, scoped reads, redaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from api.common.clock import utcnow
from api.common.request_context import request_id_var
from api.domain.audit import REDACTED, AuditEntry, AuditQuery
from api.domain.errors import TenantRequired
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.audit.entries import (
    RETENTION_INDEX,
    AuditEntryDocument,
    MongoAuditLog,
)

TENANT_A = TenantId("a" * 24)
TENANT_B = TenantId("b" * 24)
START = utcnow().replace(microsecond=0) - timedelta(days=1)


@pytest.fixture
def audit() -> MongoAuditLog:
    return MongoAuditLog(retention_days=90)


def entry(
    action: str = "user.created",
    *,
    tenant_id: str | None = TENANT_A,
    actor_id: str | None = "actor-1",
    resource_type: str = "user",
    minutes: int = 0,
    changes: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> AuditEntry:
    return AuditEntry(
        tenant_id=tenant_id,
        actor_id=actor_id,
        action=action,
        resource_type=resource_type,
        resource_id="r1",
        changes=changes or {},
        ip="203.0.113.9",
        user_agent="pytest",
        request_id=request_id,
        created_at=START + timedelta(minutes=minutes),
    )


async def seed(audit: MongoAuditLog) -> None:
    for item in (
        entry("auth.login", minutes=1),
        entry("user.created", actor_id="actor-2", minutes=2),
        entry("auth.login_failed", actor_id=None, minutes=3),
        entry("role.updated", resource_type="role", minutes=4),
        entry("authz.checked", minutes=5),  # not in "auth.*"
    ):
        await audit.record(item)


def actions(found: tuple[list[AuditEntry], int]) -> tuple[list[str], int]:
    return [e.action for e in found[0]], found[1]


async def test_search_filters_newest_first(audit: MongoAuditLog) -> None:
    with tenant_context(TENANT_A):
        await seed(audit)

        async def search(**fields: Any) -> tuple[list[str], int]:
            return actions(await audit.search(AuditQuery(**fields)))

        everything = ["authz.checked", "role.updated", "auth.login_failed", "user.created"]
        assert await search() == ([*everything, "auth.login"], 5)
        assert await search(action="auth.*") == (["auth.login_failed", "auth.login"], 2)
        assert await search(action="auth.login") == (["auth.login"], 1)
        assert await search(action="auth") == ([], 0)
        assert await search(actor_id="actor-2") == (["user.created"], 1)
        assert await search(resource_type="role") == (["role.updated"], 1)
        since, until = START + timedelta(minutes=2), START + timedelta(minutes=4)
        assert await search(since=since) == (everything, 4)
        assert await search(since=since, until=until) == (everything[2:], 2)
        assert await search(skip=1, limit=2) == (everything[1:3], 5)
        assert await search(action="auth.*", actor_id="actor-1") == (["auth.login"], 1)


async def test_an_entry_round_trips(audit: MongoAuditLog) -> None:
    original = entry(changes={"full_name": {"from": "A", "to": "B"}}, request_id="req-given")
    with tenant_context(TENANT_A):
        await audit.record(original)
        [found], total = await audit.search(AuditQuery())
    assert total == 1 and found.id is not None
    assert found.model_dump(exclude={"id", "created_at"}) == original.model_dump(
        exclude={"id", "created_at"}
    )
    assert found.created_at == original.created_at and found.created_at.tzinfo is not None


async def test_secrets_are_redacted_even_when_the_caller_forgot(audit: MongoAuditLog) -> None:
    changes = {
        "password": "hunter2",
        "profile": {"token": "abc", "name": "Ada"},
        "email": "ada@example.com",
    }
    with tenant_context(TENANT_A):
        await audit.record(entry(changes=changes))
        [found], _ = await audit.search(AuditQuery())
    expected = {"password": REDACTED, "profile": {"token": REDACTED, "name": "Ada"}}
    assert found.changes == expected | {"email": "ada@example.com"}
    raw = await AuditEntryDocument.get_pymongo_collection().find_one({})
    assert raw is not None and "hunter2" not in str(raw) and "abc" not in str(raw)


async def test_the_request_id_comes_from_the_context(audit: MongoAuditLog) -> None:
    token = request_id_var.set("req-from-context")
    try:
        with tenant_context(TENANT_A):
            await audit.record(entry("a.one"))
            await audit.record(entry("a.two", request_id="req-explicit", minutes=1))
            found, _ = await audit.search(AuditQuery())
    finally:
        request_id_var.reset(token)
    assert [(e.action, e.request_id) for e in found] == [
        ("a.two", "req-explicit"),
        ("a.one", "req-from-context"),
    ]


async def test_another_tenants_entries_are_invisible(audit: MongoAuditLog) -> None:
    with tenant_context(TENANT_A):
        await audit.record(entry("user.created"))
    with tenant_context(TENANT_B):
        await audit.record(entry("user.deleted", tenant_id=TENANT_B))
        assert actions(await audit.search(AuditQuery())) == (["user.deleted"], 1)
        assert actions(await audit.search(AuditQuery(action="user.created"))) == ([], 0)
        with pytest.raises(ValueError, match="another tenant"):
            await audit.record(entry("user.smuggled", tenant_id=TENANT_A))
    with tenant_context(TENANT_A):
        assert actions(await audit.search(AuditQuery())) == (["user.created"], 1)


async def test_without_a_tenant_search_is_refused(audit: MongoAuditLog) -> None:
    with tenant_context(TENANT_A):
        await audit.record(entry())
    with pytest.raises(TenantRequired):
        await audit.search(AuditQuery())
    with tenant_context(None), pytest.raises(TenantRequired):
        await audit.search(AuditQuery(action="user.created"))


async def test_platform_entries_only_through_search_platform(audit: MongoAuditLog) -> None:
    await audit.record(entry("tenant.suspended", tenant_id=None, resource_type="tenant"))
    await audit.record(entry("auth.login", tenant_id=None, minutes=1))
    with tenant_context(TENANT_A):
        await audit.record(entry("user.created", minutes=2))
        assert actions(await audit.search(AuditQuery())) == (["user.created"], 1)

    everything = await audit.search_platform(AuditQuery())
    assert actions(everything) == (["auth.login", "tenant.suspended"], 2)
    assert all(e.tenant_id is None for e in everything[0])
    tenants_only = await audit.search_platform(AuditQuery(resource_type="tenant"))
    assert actions(tenants_only) == (["tenant.suspended"], 1)
    assert actions(await audit.search_platform(AuditQuery(action="auth.*"))) == (
        ["auth.login"],
        1,
    )


async def test_the_log_is_append_only() -> None:
    public = {name for name in dir(MongoAuditLog) if not name.startswith("_")}
    assert public == {"record", "search", "search_platform", "ensure_retention"}


async def ttl_seconds() -> Any:
    info = await AuditEntryDocument.get_pymongo_collection().index_information()
    spec = info.get(RETENTION_INDEX, {})
    return spec.get("key"), spec.get("expireAfterSeconds")


async def test_the_ttl_index_has_the_configured_retention(audit: MongoAuditLog) -> None:
    await audit.ensure_retention()
    assert await ttl_seconds() == ([("created_at", 1)], 90 * 86400)
    await audit.ensure_retention()  # idempotent
    assert await ttl_seconds() == ([("created_at", 1)], 90 * 86400)
    await MongoAuditLog(retention_days=7).ensure_retention()  # resized
    assert await ttl_seconds() == ([("created_at", 1)], 7 * 86400)


async def test_read_indexes_start_with_the_tenant() -> None:
    info = await AuditEntryDocument.get_pymongo_collection().index_information()
    keys: dict[str, list[tuple[str, int]]] = {n: list(s["key"]) for n, s in info.items()}
    assert keys["tenant_created"] == [("tenant_id", 1), ("created_at", -1)]
    assert keys["tenant_actor_created"] == [("tenant_id", 1), ("actor_id", 1), ("created_at", -1)]
    assert keys["tenant_action_created"] == [("tenant_id", 1), ("action", 1), ("created_at", -1)]
