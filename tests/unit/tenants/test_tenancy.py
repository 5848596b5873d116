"""Tenancy rules with hand-written fakes of the ports."""

from __future__ import annotations

import asyncio

import pytest

from api.common.clock import utcnow
from api.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidTenant,
    NotFound,
    RateLimited,
    TenantNotFound,
    TenantRequired,
    TenantSuspended,
)
from api.domain.identity.auth import AuthPolicy, Principal
from api.domain.permissions import Permission
from api.domain.tenancy import TenantId, current_tenant, current_tenant_or_none, tenant_context
from api.domain.tenants.tenant import Tenant, TenantStatus, normalize_subdomain, parse_tenant_id
from api.infrastructure.persistence.tenants.directory import CachingTenantDirectory
from api.interfaces.http.middleware.tenant import subdomain_label
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.tenancy import ResolveTenant
from api.usecases.tenants.change_tenant_status import ChangeTenantStatus
from api.usecases.tenants.check_subdomain_availability import CheckSubdomainAvailability
from api.usecases.tenants.ensure_default_tenant import EnsureDefaultTenant
from api.usecases.tenants.list_tenants import ListTenants
from api.usecases.tenants.rules import OPERATOR, add_tenant, authorize
from tests.fakes.audit import FakeAuditLog
from tests.fakes.identity import FakeLimiter
from tests.fakes.tenants import FakeTenants

ACME_ID = "a" * 24


def tenant(subdomain: str = "acme", status: TenantStatus = TenantStatus.ACTIVE) -> Tenant:
    now = utcnow()
    return Tenant(
        id=ACME_ID, name="Acme", subdomain=subdomain, status=status, created_at=now, updated_at=now
    )


def test_context_is_fail_closed_and_restored() -> None:
    assert current_tenant_or_none() is None
    with pytest.raises(TenantRequired):
        current_tenant()
    with tenant_context(TenantId("t1")):
        assert current_tenant() == "t1"
        with tenant_context(None):
            assert current_tenant_or_none() is None
        assert current_tenant() == "t1"
    assert current_tenant_or_none() is None


async def test_context_does_not_leak_between_tasks() -> None:
    async def run(name: str) -> str:
        with tenant_context(TenantId(name)):
            await asyncio.sleep(0.001)
            return current_tenant()

    assert await asyncio.gather(*(run(f"t{i}") for i in range(50))) == [f"t{i}" for i in range(50)]


@pytest.mark.parametrize(
    ("raw", "expected"), [("Acme", "acme"), (" my-shop ", "my-shop"), ("a1", "a1"), ("x", "x")]
)
def test_valid_subdomains_are_normalised(raw: str, expected: str) -> None:
    assert normalize_subdomain(raw) == expected


@pytest.mark.parametrize("raw", ["", "-acme", "acme-", "ac_me", "a.b", "é", "a" * 64, "www", "API"])
def test_invalid_or_reserved_subdomains_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_subdomain(raw)
    assert caught.value.problems[0].loc == ("subdomain",)


def test_tenant_ids_are_checked() -> None:
    assert parse_tenant_id(" " + ACME_ID.upper()) == ACME_ID
    for bad in ("", "abc", "g" * 24, ACME_ID + "0"):
        with pytest.raises(InvalidTenant):
            parse_tenant_id(bad)


@pytest.mark.parametrize(
    ("host", "label"),
    [
        ("acme.example.com", "acme"),
        ("acme.example.com:8000", "acme"),
        ("ACME.Example.Com.", "acme"),
        ("example.com", None),
        ("www.example.com", None),
        ("example.com:443", None),
        ("notexample.com", None),
        ("127.0.0.1:8000", None),
        ("[::1]:8000", None),
        ("", None),
    ],
)
def test_subdomain_label(host: str, label: str | None) -> None:
    assert subdomain_label(host, "example.com") == label


def test_deeper_hosts_are_refused() -> None:
    with pytest.raises(InvalidTenant):
        subdomain_label("a.b.example.com", "example.com")


async def test_resolve_admits_only_active_known_tenants() -> None:
    directory = CachingTenantDirectory(FakeTenants(tenant()), ttl_seconds=0)
    resolve = ResolveTenant(directory)
    assert await resolve.by_id(ACME_ID) == ACME_ID
    assert await resolve.by_subdomain("ACME") == ACME_ID
    with pytest.raises(TenantNotFound):
        await resolve.by_id("b" * 24)
    with pytest.raises(TenantNotFound):
        await resolve.by_subdomain("nobody")
    with pytest.raises(InvalidTenant):
        await resolve.by_subdomain("bad_label")
    with pytest.raises(InvalidTenant):
        await resolve.by_id("nope")

    suspended = CachingTenantDirectory(FakeTenants(tenant(status=TenantStatus.SUSPENDED)), 0)
    with pytest.raises(TenantSuspended):
        await ResolveTenant(suspended).by_id(ACME_ID)


async def test_directory_caches_hits_and_misses_until_forgotten() -> None:
    fake = FakeTenants(tenant())
    directory = CachingTenantDirectory(fake, ttl_seconds=60)
    for _ in range(3):
        assert await directory.by_id(ACME_ID) is not None
        assert await directory.by_id("b" * 24) is None
    assert fake.reads == 2
    directory.forget(tenant())
    await directory.by_id(ACME_ID)
    assert fake.reads == 3


async def test_directory_with_zero_ttl_always_reads() -> None:
    fake = FakeTenants(tenant())
    directory = CachingTenantDirectory(fake, ttl_seconds=0)
    for _ in range(3):
        await directory.by_subdomain("acme")
    assert fake.reads == 3


async def test_create_tenant_checks_the_subdomain_and_uniqueness() -> None:
    fake = FakeTenants()
    created = await add_tenant(fake, "  Acme  ", "Acme")
    assert (created.name, created.subdomain, created.status) == ("Acme", "acme", "active")
    assert created.created_at.tzinfo is not None
    with pytest.raises(Conflict):
        await add_tenant(fake, "Other", "acme")
    with pytest.raises(InvalidInput):
        await add_tenant(fake, "Admin", "admin")


async def test_ensure_default_tenant_is_idempotent() -> None:
    fake = FakeTenants()
    ensure = EnsureDefaultTenant(fake)
    first = await ensure.execute("Default", "default")
    second = await ensure.execute("Default", "default")
    assert first.id == second.id and len(fake.by_id) == 1


async def test_suspending_refuses_at_once_despite_the_cache() -> None:
    fake = FakeTenants(tenant())
    directory = CachingTenantDirectory(fake, ttl_seconds=60)
    resolve = ResolveTenant(directory)
    assert await resolve.by_id(ACME_ID) == ACME_ID  # now cached
    change = ChangeTenantStatus(fake, directory, Auditor(FakeAuditLog()))
    suspended = await change.execute(OPERATOR, ACME_ID, TenantStatus.SUSPENDED)
    assert suspended.status is TenantStatus.SUSPENDED
    with pytest.raises(TenantSuspended):
        await resolve.by_id(ACME_ID)
    with pytest.raises(NotFound):
        await change.execute(OPERATOR, "b" * 24, TenantStatus.ACTIVE)


async def test_list_tenants_pages() -> None:
    fake = FakeTenants()
    for name in ("c", "a", "b"):
        await add_tenant(fake, name, name)
    page = await ListTenants(fake).execute(OPERATOR, page=2, page_size=2)
    items, total = page.items, page.total
    assert total == 3
    assert [t.subdomain for t in items] == ["c"]


def principal(tenant_id: str | None, *permissions: str) -> Principal:
    now = utcnow()
    return Principal(
        user_id="u1", tenant_id=tenant_id, session_id="s1", token_id="t1",
        permissions=frozenset(permissions), issued_at=now, expires_at=now,
    )  # fmt: skip


async def test_platform_use_cases_refuse_anyone_but_platform_admins() -> None:
    browse = ListTenants(FakeTenants(tenant()))
    page = await browse.execute(principal(None, "tenants:read"), query="AC")
    assert [t.subdomain for t in page.items] == ["acme"] and page.total == 1
    # Even a tenant principal somehow holding the permission is refused (defence in depth).
    for caller in (principal(ACME_ID, "tenants:read"), principal(None, "tenants:write")):
        with pytest.raises(Forbidden):
            await browse.execute(caller)


def test_the_operator_reads_and_changes_tenants_but_cannot_impersonate() -> None:
    for permission in (Permission.TENANTS_READ, Permission.TENANTS_WRITE):
        authorize(OPERATOR, permission)
    with pytest.raises(Forbidden):
        authorize(OPERATOR, Permission.TENANTS_IMPERSONATE)
    assert OPERATOR.user_id is None


async def test_a_status_change_is_audited_once_with_its_actor() -> None:
    log = FakeAuditLog()
    change = ChangeTenantStatus(
        FakeTenants(tenant()), CachingTenantDirectory(FakeTenants(), 0), Auditor(log)
    )
    admin = principal(None, "tenants:write")
    await change.execute(admin, ACME_ID, TenantStatus.SUSPENDED)
    await change.execute(OPERATOR, ACME_ID, TenantStatus.SUSPENDED)  # already: nothing written
    await change.execute(OPERATOR, ACME_ID, TenantStatus.ACTIVE)
    assert [(e.action, e.actor_id, e.tenant_id) for e in log.entries] == [
        ("tenant.suspended", "u1", ACME_ID), ("tenant.activated", None, ACME_ID),
    ]  # fmt: skip
    with pytest.raises(Forbidden):
        await change.execute(principal(None, "tenants:read"), ACME_ID, TenantStatus.ACTIVE)


async def test_subdomain_availability_reasons_and_limit() -> None:
    limiter = FakeLimiter(allowed=5, retry_after=7)
    check = CheckSubdomainAvailability(FakeTenants(tenant()), limiter, AuthPolicy())
    answers = [await check.execute(raw) for raw in (" New ", "ACME", "www", "no_way")]
    assert [(a.subdomain, a.available, a.reason) for a in answers] == [
        ("new", True, None), ("acme", False, "taken"), ("www", False, "reserved"),
        ("no_way", False, "invalid"),
    ]  # fmt: skip
    assert limiter.hits[0] == ("subdomain-check:ip:unknown", 30, 60)
    await check.execute("x")
    with pytest.raises(RateLimited) as limited:
        await check.execute("x")
    assert limited.value.retry_after == 7
