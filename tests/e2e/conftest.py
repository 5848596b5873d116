"""The whole app over HTTP: `create_app()` with its real lifespan, driven through httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from api.config import Settings
from api.main import create_app
from tests.conftest import make_settings
from tests.support.ai_stack import AiStack, StackMaker, fresh

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@asynccontextmanager
async def serve(
    settings: Settings, base_url: str = "http://testserver", app: FastAPI | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and give an httpx client talking to it in-process."""
    app = app or create_app(settings)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


@pytest.fixture(autouse=True)
async def _clean(clean_state: None) -> None:
    """Every e2e test starts from empty collections and an empty Redis."""


@pytest.fixture
def make_client(mongo_url: str, redis_url: str, db_name: str) -> ClientFactory:
    """`async with make_client(multi_tenancy_strategy="subdomain", ...) as client:`."""

    def factory(base_url: str = "http://testserver", **tenancy: Any) -> Any:
        tenancy.setdefault("tenant_cache_ttl_seconds", 0)
        return serve(make_settings(mongo_url, redis_url, db_name, **tenancy), base_url)

    return factory


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as http:
        yield http


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and code; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:parley:problem:{code}"
    assert body["title"] and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


@pytest.fixture(scope="module")
async def shared_stack(mongo_url: str, redis_url: str, db_name: str) -> AsyncIterator[AiStack]:
    """One Parley and fake LLM server per AI test module (started only where used)."""
    async with StackMaker(mongo_url, redis_url, db_name)() as running:
        yield running


@pytest.fixture
def stack(shared_stack: AiStack) -> AiStack:
    """The module's Parley and fake LLM, each test starting from empty stores and a fresh
    fake."""
    return fresh(shared_stack)
