"""A TCP proxy in front of a real server that a test can make hang: `async with
gated(port) as gate:` listens on `gate.port` and pipes every connection to 127.0.0.1:port.
`gate.hang()` stops passing bytes either way (connections are still accepted, and what
arrives is read and held: the client sees a server that never answers);
`gate.release()` passes them again, the held bytes first. `gate.held` counts the
connections with bytes waiting at the gate. Runs in the test's event loop.

`await timed(within, what, call)`: (seconds taken, result) of an awaitable that must end
within `within` seconds (another tenant's request while a provider hangs)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import devservers

T = TypeVar("T")


async def timed(within: float, what: str, call: Awaitable[T]) -> tuple[float, T]:
    started = time.monotonic()
    answer = await call
    took = time.monotonic() - started
    assert took < within, f"{what} took {took:.1f} s (bound {within} s)"
    return took, answer


class Gate:
    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.port = devservers.free_port()
        self.held = 0
        self._open = asyncio.Event()
        self._open.set()
        self._tasks: set[asyncio.Task[None]] = set()

    def hang(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if not self._open.is_set():
                    self.held += 1
                    try:
                        await self._open.wait()
                    finally:
                        self.held -= 1
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            writer.close()
            return
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ]
        self._tasks.update(pipes)
        try:
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            self._tasks.difference_update(pipes)

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()


@contextlib.asynccontextmanager
async def gated(upstream: int) -> AsyncIterator[Gate]:
    gate = Gate(upstream)
    server = await asyncio.start_server(gate._connection, "127.0.0.1", gate.port)
    try:
        yield gate
    finally:
        gate.close()
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)
