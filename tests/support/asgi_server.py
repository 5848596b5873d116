"""One way to serve an ASGI app over real TCP inside the test's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

import uvicorn
from starlette.types import ASGIApp

from api.interfaces.http.uvicorn_protocol import UVICORN_HTTP


class _InProcessServer(uvicorn.Server):
    """A uvicorn server that leaves the test process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve_asgi(app: ASGIApp, *, graceful_seconds: int = 1) -> AsyncIterator[str]:
    """Serve `app` (lifespan off: run it yourself if it has one) on a free port of
    127.0.0.1; yields the base URL (`http://127.0.0.1:PORT`, no trailing slash).

    TCP_NODELAY is set on the listening socket, and the accepted ones inherit it (Linux):
    asyncio turns Nagle's algorithm off only on sockets whose `proto` is IPPROTO_TCP, and
    a socket made with `socket.socket(AF_INET, SOCK_STREAM)` has proto 0, so every response
    written in two pieces (headers, body) would wait for the client's delayed ACK, about
    40 ms a request. On exit, streams still open are cancelled after `graceful_seconds`,
    then given a second to finish (so what they count on cancellation is counted).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,  # leave the test process's logging configuration alone
        log_level="warning",
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=graceful_seconds,
        http=UVICORN_HTTP,  # as Parley is served (scripts/serve, the image)
    )
    server = _InProcessServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("uvicorn stopped while starting")
            await asyncio.sleep(0.005)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            await task
            if pending := list(server.server_state.tasks):
                await asyncio.wait(pending, timeout=1)
        finally:
            sock.close()
