"""The operations tests' app, next to the session's real worker and SMTP server (the
fixtures `worker`, `smtp`, `celery_client` come from `tests.support.worker_fixtures`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.config import Settings
from tests.support.app import serve
from tests.support.settings import make_settings


@pytest.fixture
async def app_client(
    worker: Path, mongo_url: str, redis_url: str, db_name: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    async with serve(settings) as http:
        yield http, settings
