"""The whole app over HTTP: `create_app()` with its real lifespan, driven through httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import punq
import pytest

from tests.support.app import AppClient, ClientFactory, serve
from tests.support.settings import make_settings


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
async def client(make_client: ClientFactory) -> AsyncIterator[AppClient]:
    async with make_client() as http:
        yield http


@pytest.fixture
def container(client: AppClient) -> punq.Container:
    """The composition root of the app `client` talks to, to arrange what HTTP cannot."""
    return client.container
