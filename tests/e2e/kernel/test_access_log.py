"""The access line of each request names the tenant the request was resolved to."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.support.database import create_tenant


@contextmanager
def access_records() -> Iterator[list[logging.LogRecord]]:
    """The `parley.access` records emitted inside the block (attached after start-up: the
    app's logging setup replaces the root handlers)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger, handler = logging.getLogger("parley.access"), Collect(logging.DEBUG)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def access_line(records: list[logging.LogRecord], path: str) -> logging.LogRecord:
    found = [r for r in records if f" {path} " in r.getMessage()]
    assert len(found) == 1, [r.getMessage() for r in records]
    return found[0]


async def test_a_tenant_request_is_logged_with_its_tenant(client: httpx.AsyncClient) -> None:
    acme = await create_tenant("acme")
    with access_records() as records:
        response = await client.get(
            "/api/v1/tenant", headers={"X-Tenant-ID": (acme.id or "").upper()}
        )
    assert response.status_code == 200, response.text
    line = access_line(records, "/api/v1/tenant")
    assert line.tenant_id == acme.id  # type: ignore[attr-defined]  # the resolved id
    assert line.request_id == response.headers["x-request-id"]  # type: ignore[attr-defined]
    assert "200" in line.getMessage()


async def test_a_platform_request_is_logged_without_a_tenant(client: httpx.AsyncClient) -> None:
    with access_records() as records:
        await client.get("/health")
    assert access_line(records, "/health").tenant_id == "-"  # type: ignore[attr-defined]


async def test_a_refused_tenant_is_logged_without_a_tenant(client: httpx.AsyncClient) -> None:
    with access_records() as records:
        response = await client.get(
            "/api/v1/tenant", headers={"X-Tenant-ID": "0123456789abcdef01234567"}
        )
    assert response.status_code == 404
    assert access_line(records, "/api/v1/tenant").tenant_id == "-"  # type: ignore[attr-defined]
