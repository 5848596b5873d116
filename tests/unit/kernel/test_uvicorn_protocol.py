"""`ParleyHttpProtocol`: uvicorn's httptools protocol, the body not copied, read up to a
window. A real uvicorn server on loopback, with the installed uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import uvicorn

from api.interfaces.http.uvicorn_protocol import (
    BODY_WINDOW,
    UVICORN_HTTP,
    ParleyHttpProtocol,
    _Pieces,
)

READ_MAX = 256 * 1024  # the most one socket read gives (uvloop's buffer, asyncio's default)
DEADLINE = 30.0


class _App:
    """Reads the body one message at a time, when told to; answers its SHA-256."""

    def __init__(self, *, hold_after_first: bool) -> None:
        self.hold = asyncio.Event()
        if not hold_after_first:
            self.hold.set()
        self.first = asyncio.Event()
        self.sizes: list[int] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        digest = hashlib.sha256()
        while True:
            message = await receive()
            body = message.get("body", b"")
            assert type(body) is bytes
            digest.update(body)
            self.sizes.append(len(body))
            self.first.set()
            if not message.get("more_body"):
                break
            await self.hold.wait()
        answer = digest.hexdigest().encode()
        length = (b"content-length", str(len(answer)).encode())
        await send({"type": "http.response.start", "status": 200, "headers": [length]})
        await send({"type": "http.response.body", "body": answer})


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def _serving(app: _App) -> AsyncIterator[tuple[int, uvicorn.Server]]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, http=UVICORN_HTTP, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        await _until(lambda: server.started, "the server to start")
        yield port, server
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, DEADLINE)
        listener.close()


async def _post(port: int, body: bytes) -> tuple[asyncio.Task[bytes], asyncio.StreamWriter]:
    """Start sending `body`; the task ends with the answer's body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n".encode()

    async def exchange() -> bytes:
        writer.write(head)
        for start in range(0, len(body), 64 * 1024):
            writer.write(body[start : start + 64 * 1024])
            await writer.drain()
        answer = await reader.readuntil(b"\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200")
        return await reader.readexactly(64)

    return asyncio.create_task(exchange()), writer


def _connection(server: uvicorn.Server) -> ParleyHttpProtocol:
    [protocol] = server.server_state.connections
    assert isinstance(protocol, ParleyHttpProtocol)
    return protocol


async def test_a_slow_app_holds_at_most_the_window_and_gets_every_byte() -> None:
    body = os.urandom(16 * 1024 * 1024)
    app = _App(hold_after_first=True)
    async with _serving(app) as (port, server):
        sending, writer = await _post(port, body)
        await asyncio.wait_for(app.first.wait(), DEADLINE)
        protocol = _connection(server)
        # The app is not reading: the server must stop reading once the window is full.
        await _until(lambda: protocol.flow.read_paused, "reading to pause")
        waiting = len(protocol.cycle.body)
        assert BODY_WINDOW < waiting <= BODY_WINDOW + READ_MAX
        app.hold.set()
        answer = await asyncio.wait_for(sending, DEADLINE)
        writer.close()
    assert answer == hashlib.sha256(body).hexdigest().encode()
    assert sum(app.sizes) == len(body)
    assert max(app.sizes) <= BODY_WINDOW + READ_MAX


async def test_a_body_read_as_it_comes_arrives_whole_and_in_order() -> None:
    body = os.urandom(8 * 1024 * 1024 + 12345)
    app = _App(hold_after_first=False)
    async with _serving(app) as (port, _server):
        sending, writer = await _post(port, body)
        answer = await asyncio.wait_for(sending, DEADLINE)
        writer.close()
    assert answer == hashlib.sha256(body).hexdigest().encode()
    assert max(app.sizes) <= BODY_WINDOW + READ_MAX


def test_one_waiting_piece_is_handed_on_as_it_came_several_are_joined() -> None:
    piece = os.urandom(1000)
    one = _Pieces()
    one += piece
    assert bytes(one) is piece and len(one) == 1000
    several = _Pieces()
    several += b"ab"
    several += b"cd"
    assert bytes(several) == b"abcd" and len(several) == 4


@pytest.mark.parametrize("module", ["uvicorn.protocols.http.httptools_impl"])
def test_uvicorns_cycle_still_reads_the_body_as_this_protocol_expects(module: str) -> None:
    """The protocol relies on `receive()` handing `bytes(cycle.body)` on and resetting it:
    a uvicorn that changed this must be looked at before it is used with the protocol."""
    import importlib
    import inspect

    source = inspect.getsource(importlib.import_module(module).RequestResponseCycle.receive)
    assert '"body": bytes(self.body)' in source
    assert "self.body = bytearray()" in source
