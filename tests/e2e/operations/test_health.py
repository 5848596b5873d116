"""Health endpoints and the shape every response carries."""

from __future__ import annotations

import httpx


async def test_liveness(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_database_and_cache_health_report_latency(client: httpx.AsyncClient) -> None:
    for path in ("/health/db", "/health/cache"):
        response = await client.get(path)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "ok"
        assert isinstance(body["latency_ms"], float) and 0 <= body["latency_ms"] < 2000


async def test_docs_and_openapi_are_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert {"/health", "/health/db", "/health/cache", "/api/v1/tenant"} <= set(spec["paths"])
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "content-security-policy" not in docs.headers  # the docs page loads CDN assets
    assert (await client.get("/redoc")).status_code == 200
