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
    """A uvicorn server that leaves the test process's signal handlers alone and stops as
    soon as `stop` is called: uvicorn's own loop looks at `should_exit` every 0.1 s and its
    shutdown always sleeps 0.1 s more, ~70 ms of the teardown of every test serving a fake
    over TCP (0.3 ms now)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stop = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def stop(self) -> None:
        self.should_exit = True
        self._stop.set()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's, except that it waits for the connections it asked to close only as
        long as they stay open (up to 0.1 s, which uvicorn always sleeps)."""
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        deadline = asyncio.get_running_loop().time() + 0.1
        # uvicorn signals no event when its connections close: polled.
        while self.server_state.connections and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        try:
            await asyncio.wait_for(
                self._wait_tasks_to_complete(), timeout=self.config.timeout_graceful_shutdown
            )
        except TimeoutError:
            for task in self.server_state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        await self.lifespan.shutdown()

    async def main_loop(self) -> None:
        """uvicorn's loop (a tick every 0.1 s: the `Date` header, the request limit),
        woken at once by `stop`."""
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.1)
            should_exit = await self.on_tick(counter)


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
        server.stop()
        try:
            await task
            if pending := list(server.server_state.tasks):
                await asyncio.wait(pending, timeout=1)
        finally:
            sock.close()
