"""The metrics' route labels on a small app of its own: the full template of the route as
included (one router included under two prefixes keeps them apart), a request refused by
a middleware before its route labelled with that route's template, 405 and unmatched, and
a request to one router does not build the routes of a router it never walked (FastAPI
builds an included router's routes, their dependency trees, when a request first walks it:
the API process's first requests, and every app a test starts)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.interfaces.http.middleware.metrics import HttpMetrics, MetricsMiddleware

items = APIRouter(prefix="/items")


@items.get("/{item_id}")
async def read_item(item_id: str) -> dict[str, str]:
    return {"id": item_id}


later = APIRouter(prefix="/later")


@later.get("/{name}")
async def read_later(name: str) -> dict[str, str]:
    return {"name": name}


class Refuse:
    """Answers 403 to any request with `X-Refuse`, before routing (as the tenant
    middleware refuses an unknown tenant)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (b"x-refuse", b"1") in scope["headers"]:
            await PlainTextResponse("refused", status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def small_app(metrics: HttpMetrics) -> FastAPI:
    app = FastAPI()
    app.include_router(items, prefix="/v1")
    app.include_router(items, prefix="/v2")
    app.include_router(later, prefix="/v1")
    app.add_middleware(Refuse)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


@pytest.fixture
def metrics() -> HttpMetrics:
    return HttpMetrics()


@pytest.fixture
async def http(metrics: HttpMetrics) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=small_app(metrics))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def requests_by_label(metrics: HttpMetrics) -> dict[tuple[str, str, str], float]:
    return {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
        for s in family.samples
        if s.name == "http_requests_total"
    }


async def test_routed_requests_carry_the_template_as_included(
    http: httpx.AsyncClient, metrics: HttpMetrics
) -> None:
    assert (await http.get("/v1/items/a")).status_code == 200
    assert (await http.get("/v2/items/b")).status_code == 200
    assert (await http.get("/v2/items/c")).status_code == 200
    assert requests_by_label(metrics) == {
        ("GET", "/v1/items/{item_id}", "200"): 1,
        ("GET", "/v2/items/{item_id}", "200"): 2,
    }


async def test_unrouted_requests_are_matched_to_a_template(
    http: httpx.AsyncClient, metrics: HttpMetrics
) -> None:
    refused = {"X-Refuse": "1"}
    assert (await http.get("/v2/items/a", headers=refused)).status_code == 403
    assert (await http.get("/v1/later/x", headers=refused)).status_code == 403
    assert (await http.post("/v1/items/a")).status_code == 405
    assert (await http.post("/v1/items/a", headers=refused)).status_code == 403
    assert (await http.get("/nowhere/a")).status_code == 404
    assert requests_by_label(metrics) == {
        ("GET", "/v2/items/{item_id}", "403"): 1,
        ("GET", "/v1/later/{name}", "403"): 1,
        ("POST", "/v1/items/{item_id}", "405"): 1,
        ("POST", "/v1/items/{item_id}", "403"): 1,
        ("GET", "unmatched", "404"): 1,
    }


async def test_a_request_builds_only_the_routers_it_walks(http: httpx.AsyncClient) -> None:
    app = http._transport.app  # type: ignore[attr-defined]
    included = [route for route in app.routes if hasattr(route, "original_router")]
    assert [r.original_router for r in included] == [items, items, later]
    assert (await http.get("/v1/items/a")).status_code == 200
    assert (await http.get("/v1/items/a", headers={"X-Refuse": "1"})).status_code == 403
    walked = [r._effective_candidates_version is not None for r in included]
    assert walked == [True, False, False]  # the label needed nothing more


def test_the_api_builds_every_router_before_serving_outside_tests() -> None:
    from api.main import build_routes, create_app
    from tests.support.settings import make_settings

    # No server is reached: the app is only made (its lifespan, which calls this when the
    # environment is not the tests', is not run).
    app = create_app(make_settings("mongodb://127.0.0.1:9", "redis://127.0.0.1:9/0", "unused"))
    included = [route for route in app.router.routes if hasattr(route, "original_router")]

    def built() -> list[bool]:
        return [getattr(r, "_effective_candidates_version", None) is not None for r in included]

    assert included and not any(built())
    build_routes(app)
    assert all(built())
