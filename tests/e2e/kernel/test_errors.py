"""Every error is RFC 9457 problem+json with a request id; no internals leak."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Query

from api.main import create_app
from tests.support.app import assert_problem, serve
from tests.support.settings import make_settings


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/nothing-here"), 404, "not_found")


async def test_wrong_method_is_a_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/health")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


async def test_request_id_is_echoed_when_sane_and_replaced_when_not(
    client: httpx.AsyncClient,
) -> None:
    echoed = await client.get("/health", headers={"X-Request-ID": "abc-123.DEF_4"})
    assert echoed.headers["x-request-id"] == "abc-123.DEF_4"
    fresh = await client.get("/health", headers={"X-Request-ID": "bad id\twith<script>"})
    assert fresh.headers["x-request-id"] != "bad id\twith<script>"
    assert len(fresh.headers["x-request-id"]) == 32
    other = await client.get("/health")
    assert other.headers["x-request-id"] != fresh.headers["x-request-id"]


async def test_security_headers_on_api_responses(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in response.headers  # production only


async def test_validation_errors_and_crashes_are_problems(
    mongo_url: str, redis_url: str, db_name: str
) -> None:
    settings = make_settings(mongo_url, redis_url, db_name)
    app = create_app(settings)
    probe = APIRouter()

    @probe.get("/probe/validate")
    async def validate(limit: Annotated[int, Query(ge=1, le=100)]) -> dict[str, int]:
        return {"limit": limit}

    @probe.get("/probe/crash")
    async def crash() -> None:
        raise RuntimeError("secret internals: mongodb://user:pw@db")

    app.include_router(probe)
    async with serve(settings, app=app) as http:
        body = assert_problem(await http.get("/probe/validate?limit=500"), 422, "invalid_input")
        assert body["errors"][0]["loc"] == ["query", "limit"]
        assert "100" in body["errors"][0]["msg"]
        body = assert_problem(await http.get("/probe/validate"), 422, "invalid_input")
        assert body["errors"][0]["loc"] == ["query", "limit"]

        crashed = await http.get("/probe/crash")
        body = assert_problem(crashed, 500, "internal_error")
        assert "secret" not in crashed.text and "mongodb" not in crashed.text
        assert "Traceback" not in crashed.text
        # The server keeps serving after a crash.
        assert (await http.get("/health")).status_code == 200


async def test_cors_is_off_unless_origins_are_configured(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/api/v1/tenant",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_preflight_from_an_allowed_origin(
    mongo_url: str, redis_url: str, db_name: str
) -> None:
    settings = make_settings(mongo_url, redis_url, db_name)
    settings.security.cors_origins = ["https://app.example.com"]
    async with serve(settings) as http:
        allowed = await http.options(
            "/api/v1/tenant",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "x-tenant-id,authorization",
            },
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
        denied = await http.options(
            "/api/v1/tenant",
            headers={"Origin": "https://evil.example.net", "Access-Control-Request-Method": "GET"},
        )
        assert denied.status_code == 400
        assert "access-control-allow-origin" not in denied.headers
