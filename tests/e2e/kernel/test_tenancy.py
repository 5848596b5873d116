"""Tenant resolution for the three strategies, refusals, and isolation under concurrency."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from api.domain.tenants.tenant import TenantStatus
from api.infrastructure.persistence.base.mongo import MongoClient
from api.infrastructure.persistence.tenants.tenants import TenantDocument
from tests.support.app import ClientFactory, assert_problem
from tests.support.database import create_tenant


async def test_header_names_the_tenant(client: httpx.AsyncClient) -> None:
    acme = await create_tenant("acme", "Acme Corp")
    response = await client.get("/api/v1/tenant", headers={"X-Tenant-ID": acme.id or ""})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "id": acme.id,
        "name": "Acme Corp",
        "subdomain": "acme",
        "status": "active",
        "created_at": body["created_at"],
    }
    assert body["created_at"].endswith(("+00:00", "Z"))


async def test_upper_case_tenant_id_is_accepted(client: httpx.AsyncClient) -> None:
    acme = await create_tenant("acme")
    response = await client.get("/api/v1/tenant", headers={"X-Tenant-ID": (acme.id or "").upper()})
    assert response.json()["id"] == acme.id


async def test_no_tenant_means_the_platform_plane(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/tenant"), 400, "tenant_required")
    assert (await client.get("/health")).status_code == 200


@pytest.mark.parametrize("raw", ["", "abc", "x" * 24, "0123456789abcdef0123456", "../../etc"])
async def test_malformed_tenant_is_refused_before_any_route(
    client: httpx.AsyncClient, raw: str
) -> None:
    assert_problem(
        await client.get("/api/v1/tenant", headers={"X-Tenant-ID": raw}), 400, "invalid_tenant"
    )
    # Refused before routing: even an unknown route answers the tenant problem.
    assert_problem(
        await client.get("/api/v1/missing", headers={"X-Tenant-ID": raw}), 400, "invalid_tenant"
    )


async def test_unknown_tenant_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/tenant", headers={"X-Tenant-ID": "0" * 24})
    assert_problem(response, 404, "tenant_not_found")


async def test_suspended_tenant_is_refused(client: httpx.AsyncClient) -> None:
    gone = await create_tenant("gone", status=TenantStatus.SUSPENDED)
    response = await client.get("/api/v1/tenant", headers={"X-Tenant-ID": gone.id or ""})
    assert_problem(response, 403, "tenant_suspended")


async def test_suspension_takes_effect_without_restart(client: httpx.AsyncClient) -> None:
    acme = await create_tenant("acme")
    headers = {"X-Tenant-ID": acme.id or ""}
    assert (await client.get("/api/v1/tenant", headers=headers)).status_code == 200
    await TenantDocument.get_pymongo_collection().update_one(
        {"subdomain": "acme"}, {"$set": {"status": "suspended"}}
    )
    assert_problem(await client.get("/api/v1/tenant", headers=headers), 403, "tenant_suspended")


async def test_subdomain_strategy(make_client: ClientFactory) -> None:
    acme = await create_tenant("acme")
    await create_tenant("paused", status=TenantStatus.SUSPENDED)
    strategy = {"multi_tenancy_strategy": "subdomain", "host_main_domain": "example.com"}
    async with make_client(**strategy) as http:
        # The port is ignored; the header is not how tenants are named here.
        found = await http.get(
            "http://acme.example.com:8443/api/v1/tenant", headers={"X-Tenant-ID": "0" * 24}
        )
        assert found.status_code == 200, found.text
        assert found.json()["id"] == acme.id
        assert (await http.get("http://ACME.Example.com/api/v1/tenant")).json()["id"] == acme.id
        # The bare domain, www and foreign hosts are the platform plane.
        for host in ("example.com", "www.example.com", "127.0.0.1:8000", "other.org"):
            response = await http.get(f"http://{host}/api/v1/tenant")
            assert_problem(response, 400, "tenant_required")
        assert_problem(
            await http.get("http://nobody.example.com/api/v1/tenant"), 404, "tenant_not_found"
        )
        assert_problem(
            await http.get("http://paused.example.com/api/v1/tenant"), 403, "tenant_suspended"
        )
        assert_problem(
            await http.get("http://a.b.example.com/api/v1/tenant"), 400, "invalid_tenant"
        )
        assert_problem(
            await http.get("http://bad_label.example.com/api/v1/tenant"), 400, "invalid_tenant"
        )


async def test_none_strategy_uses_one_default_tenant_created_on_start(
    make_client: ClientFactory, mongo_client: MongoClient, db_name: str
) -> None:
    strategy = {"multi_tenancy_strategy": "none", "default_tenant_name": "Solo"}
    async with make_client(**strategy) as http:
        first = (await http.get("/api/v1/tenant", headers={"X-Tenant-ID": "0" * 24})).json()
    assert first["name"] == "Solo" and first["subdomain"] == "default"
    async with make_client(**strategy) as http:  # a restart reuses it
        second = (await http.get("/api/v1/tenant")).json()
    assert second["id"] == first["id"]
    assert await mongo_client[db_name]["tenants"].count_documents({}) == 1


async def test_two_tenants_never_mix_under_concurrent_requests(
    make_client: ClientFactory,
) -> None:
    """Hundreds of interleaved requests for two tenants at once; every answer is checked."""
    tenants = [await create_tenant("alpha", "Alpha"), await create_tenant("beta", "Beta")]
    async with make_client(tenant_cache_ttl_seconds=5) as http:

        async def ask(i: int) -> tuple[str, dict[str, str], str]:
            tenant = tenants[i % 2]
            await asyncio.sleep(random.random() / 200)
            response = await http.get(
                "/api/v1/tenant", headers={"X-Tenant-ID": tenant.id or "", "X-Request-ID": f"r{i}"}
            )
            assert response.status_code == 200, response.text
            return tenant.id or "", response.json(), response.headers["x-request-id"]

        answers = await asyncio.gather(*(ask(i) for i in range(400)))
    for i, (expected, body, request_id) in enumerate(answers):
        assert body["id"] == expected
        assert body["name"] == ("Alpha" if i % 2 == 0 else "Beta")
        assert request_id == f"r{i}"
