"""The whole app in-process for tests over HTTP: `serve()` runs `create_app()` with its real
lifespan and gives an `AppClient` talking to it; `assert_problem` checks an RFC 9457
error; `captured_logs` collects the app's log lines."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any, cast

import httpx
import punq
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from api.config import Settings
from api.domain.clock import Clock
from api.main import create_app
from tests.support.asgi_server import serve_asgi


def use_clock(container: punq.Container, clock: Clock) -> None:
    """Make the app read `clock`: registered, and the use cases built so far (singletons,
    some built at start-up, such as the inbound handlers' chain) built again on their next
    use, with it."""
    container.register(Clock, instance=clock)
    container._singletons.clear()


def container_of(app: FastAPI) -> punq.Container:
    """The composition root of a running app (its lifespan puts it in the app's state)."""
    return cast(punq.Container, app.state.container)


class AppClient(httpx.AsyncClient):
    """An httpx client talking in-process to one running app, which it names: tests arrange
    through the app's `container` what HTTP cannot (a tenant with its owner, tokens, ...)."""

    def __init__(
        self,
        app: FastAPI,
        base_url: str = "http://testserver",
        peer: tuple[str, int] = ("127.0.0.1", 123),
    ) -> None:
        """`peer`: the TCP peer the app sees (the ASGI `client`)."""
        transport = httpx.ASGITransport(app=app, client=peer)
        super().__init__(transport=transport, base_url=base_url)
        self.app = app

    @property
    def container(self) -> punq.Container:
        return container_of(self.app)


ClientFactory = Callable[..., AbstractAsyncContextManager[AppClient]]


@asynccontextmanager
async def serve(
    settings: Settings, base_url: str = "http://testserver", app: FastAPI | None = None
) -> AsyncIterator[AppClient]:
    """Run the app's lifespan and give a client talking to it in-process."""
    app = app or create_app(settings)
    async with (
        LifespanManager(app, startup_timeout=30, shutdown_timeout=30),
        AppClient(app, base_url) as client,
    ):
        yield client


@asynccontextmanager
async def serve_over_tcp(settings: Settings) -> AsyncIterator[tuple[AppClient, httpx.AsyncClient]]:
    """Run the app's lifespan and serve it with uvicorn on a free local port: gives an
    in-process client (to arrange) and a client talking to it over real TCP."""
    app = create_app(settings)
    async with (
        LifespanManager(app, startup_timeout=30, shutdown_timeout=30),
        AppClient(app) as local,
        serve_asgi(app, graceful_seconds=2) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as remote,
    ):
        yield local, remote


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """Run the app's lifespan; make clients with `AppClient(app, peer=...)`."""
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        yield app


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


@contextmanager
def captured_logs() -> Iterator[list[str]]:
    """Every log line of the app at DEBUG level (the app's logging setup replaces handlers,
    so this attaches after start-up)."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    root, handler = logging.getLogger(), Collect(logging.DEBUG)
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
