"""A dead MongoDB or Redis gives 503 problems quickly, and the app recovers by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import devservers
import httpx
import pytest

from tests.support.app import assert_problem, serve
from tests.support.database import create_tenant
from tests.support.settings import make_settings

BOUND_SECONDS = 5.0


@pytest.fixture
def own_mongo(tmp_path: Path) -> Iterator[devservers.ServerProcess]:
    server = devservers.start_mongo(storage_path=str(tmp_path / "db"), standalone=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[devservers.ServerProcess]:
    server = devservers.start_redis()
    try:
        yield server
    finally:
        server.stop()


async def timed_get(http: httpx.AsyncClient, path: str, **kwargs: object) -> httpx.Response:
    started = time.monotonic()
    response = await http.get(path, **kwargs)  # type: ignore[arg-type]
    assert time.monotonic() - started < BOUND_SECONDS, f"{path} took too long"
    return response


async def test_database_outage_is_503_and_recovers(
    own_mongo: devservers.ServerProcess, redis_url: str, tmp_path: Path
) -> None:
    settings = make_settings(own_mongo.url, redis_url, "outage", tenant_cache_ttl_seconds=0)
    async with serve(settings) as http:
        # The tenant must exist in this server's database: create it through this app's binding.
        tenant = await create_tenant("acme")
        headers = {"X-Tenant-ID": tenant.id or ""}
        assert (await http.get("/api/v1/tenant", headers=headers)).status_code == 200

        own_mongo.stop()  # a clean stop keeps its data for the restart below
        down = await timed_get(http, "/api/v1/tenant", headers=headers)
        body = assert_problem(down, 503, "service_unavailable")
        assert "database" in body["detail"] and "127.0.0.1" not in down.text
        assert down.headers["retry-after"].isdigit()
        health = await timed_get(http, "/health/db")
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        assert (await http.get("/health")).status_code == 200  # liveness is unaffected

        restarted = devservers.start_mongo(
            port=own_mongo.port, storage_path=str(tmp_path / "db"), standalone=True
        )
        try:
            deadline = time.monotonic() + 20
            while (await http.get("/health/db")).status_code != 200:
                assert time.monotonic() < deadline, "the app did not reconnect"
            recovered = await http.get("/api/v1/tenant", headers=headers)
            assert recovered.status_code == 200 and recovered.json()["id"] == tenant.id
        finally:
            restarted.stop()


async def test_cache_outage_is_reported_and_recovers(
    own_redis: devservers.ServerProcess, mongo_url: str, db_name: str
) -> None:
    settings = make_settings(mongo_url, own_redis.url, db_name)
    async with serve(settings) as http:
        assert (await http.get("/health/cache")).status_code == 200
        own_redis.kill()
        down = await timed_get(http, "/health/cache")
        assert down.status_code == 503
        assert down.json()["status"] == "unavailable"
        assert (await http.get("/health/db")).status_code == 200

        restarted = devservers.start_redis(port=own_redis.port)
        try:
            deadline = time.monotonic() + 20
            while (await http.get("/health/cache")).status_code != 200:
                assert time.monotonic() < deadline, "the app did not reconnect"
        finally:
            restarted.stop()
