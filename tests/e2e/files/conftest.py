"""The storage, file and avatar tests' app: its local blobs live in a temporary folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from api.config import Settings
from tests.support.app import AppClient, ClientFactory, serve
from tests.support.settings import make_settings


@pytest.fixture
def blob_dir(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def storage_settings(mongo_url: str, redis_url: str, db_name: str, blob_dir: Path) -> Settings:
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    settings.storage.local_storage_dir = str(blob_dir)
    return settings


@pytest.fixture
def make_storage_client(storage_settings: Settings) -> ClientFactory:
    """`async with make_storage_client(max_upload_bytes=...) as client:`."""

    def factory(**storage: Any) -> AbstractAsyncContextManager[AppClient]:
        settings = storage_settings.model_copy(deep=True)
        for name, value in storage.items():
            setattr(settings.storage, name, value)
        return serve(settings)

    return factory


@pytest.fixture
async def client(make_storage_client: ClientFactory) -> AsyncIterator[AppClient]:
    async with make_storage_client() as http:
        yield http
