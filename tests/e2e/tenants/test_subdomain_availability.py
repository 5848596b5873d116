"""The public subdomain check (reasons, any plane, per-IP rate limit), and where the tenant
routes are mounted under the other tenancy strategies."""

from __future__ import annotations

from typing import Any

import httpx

from api.domain.tenants.tenant import TenantStatus
from tests.support.app import ClientFactory, assert_problem, serve
from tests.support.database import create_tenant
from tests.support.onboarding import admin_headers
from tests.support.settings import make_settings

TENANTS = "/api/v1/tenants"
AVAILABILITY = f"{TENANTS}/subdomain-availability"


async def test_subdomain_availability_is_public_with_reasons(client: httpx.AsyncClient) -> None:
    acme = await create_tenant("acme")
    await create_tenant("gone", status=TenantStatus.SUSPENDED)

    async def check(subdomain: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = await client.get(AVAILABILITY, params={"subdomain": subdomain}, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    assert await check(" Fresh-Shop ") == {"subdomain": "fresh-shop", "available": True}
    assert await check("ACME") == {"subdomain": "acme", "available": False, "reason": "taken"}
    assert (await check("gone"))["reason"] == "taken"
    for reserved in ("www", "api", "admin"):
        assert await check(reserved) == {
            "subdomain": reserved, "available": False, "reason": "reserved",
        }  # fmt: skip
    for invalid in ("bad_label", "-acme", "a.b", "a" * 64, "é"):
        assert (await check(invalid))["reason"] == "invalid"
    # It ignores a tenant named by the request (and needs no token anywhere).
    assert (await check("acme", {"X-Tenant-ID": acme.id or ""}))["reason"] == "taken"
    for params in ({}, {"subdomain": ""}, {"subdomain": "x" * 256}):
        assert_problem(await client.get(AVAILABILITY, params=params), 422, "invalid_input")


async def test_subdomain_availability_is_rate_limited_per_ip(
    mongo_url: str, redis_url: str, db_name: str
) -> None:
    settings = make_settings(mongo_url, redis_url, db_name)
    settings.auth.sensitive_rate_per_ip = 1  # three checks a minute
    async with serve(settings) as http:
        params = {"subdomain": "acme"}
        statuses = [(await http.get(AVAILABILITY, params=params)).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        limited = await http.get(AVAILABILITY, params=params)
        assert_problem(limited, 429, "rate_limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 60


async def test_subdomain_strategy_keeps_tenant_routes_on_the_platform_host(
    make_client: ClientFactory,
) -> None:
    acme = await create_tenant("acme")
    async with make_client(
        "http://example.com", multi_tenancy_strategy="subdomain", host_main_domain="example.com"
    ) as http:
        admin = await admin_headers(http)
        listed = await http.get(TENANTS, headers=admin)
        assert listed.status_code == 200 and listed.json()["total"] == 1
        inside = await http.get(f"http://acme.example.com{TENANTS}/{acme.id}", headers=admin)
        assert_problem(inside, 403, "forbidden")
        check = await http.get(f"http://acme.example.com{AVAILABILITY}?subdomain=acme")
        assert check.json()["reason"] == "taken"


async def test_tenant_routes_are_absent_with_a_single_tenant(make_client: ClientFactory) -> None:
    async with make_client(multi_tenancy_strategy="none") as http:
        assert_problem(await http.get(TENANTS), 404, "not_found")
        assert_problem(await http.get(f"{AVAILABILITY}?subdomain=x"), 404, "not_found")
