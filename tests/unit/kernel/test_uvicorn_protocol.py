"""`ParleyHttpProtocol`: uvicorn's httptools protocol reading into a buffer of its own,
the body not copied, read up to a window. A real uvicorn server on loopback, with the
installed uvicorn, on both event loops Parley may run on (uvloop, as served, and asyncio's
own, as in the tests' in-process servers); what uvicorn does itself (keep-alive and
pipelining, a malformed request, upgrades) also against uvicorn's own protocol, which must
behave alike."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import os
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import connect

from api.interfaces.http.uvicorn_protocol import (
    BODY_WINDOW,
    READ_BUFFER,
    UVICORN_HTTP,
    ParleyHttpProtocol,
    _HttpProtocol,
    _Pieces,
    _read_buffer,
)

PLAIN_READ_MAX = 256 * 1024  # the most one read gives a plain protocol (uvloop, asyncio)
DEADLINE = 30.0
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "uvloop": uvloop.new_event_loop,
    "asyncio": asyncio.new_event_loop,
}
HTTP_PROTOCOLS = {"parley": UVICORN_HTTP, "uvicorn": "httptools"}

Run = Callable[[Coroutine[Any, Any, None]], None]


@pytest.fixture(params=sorted(LOOPS))
def run(request: pytest.FixtureRequest) -> Run:
    """Runs a test's coroutine in a loop of its own, of each kind."""

    def run(coroutine: Coroutine[Any, Any, None]) -> None:
        with asyncio.Runner(loop_factory=LOOPS[request.param]) as runner:
            runner.run(coroutine)

    return run


class _App:
    """Reads the body one message at a time, each once allowed (unless `free`); answers
    the path and the body's SHA-256. A WebSocket is accepted and echoes what it gets."""

    def __init__(self, *, free: bool) -> None:
        self.free = free
        self.allowed = asyncio.Semaphore(0)
        self.first = asyncio.Event()
        self.sizes: list[int] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await self._echo(receive, send)
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
            if not self.free:
                await self.allowed.acquire()
        answer = f"{scope['path']} {digest.hexdigest()}".encode()
        length = (b"content-length", str(len(answer)).encode())
        await send({"type": "http.response.start", "status": 200, "headers": [length]})
        await send({"type": "http.response.body", "body": answer})

    @staticmethod
    async def _echo(receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        while (message := await receive())["type"] == "websocket.receive":
            if message.get("bytes") is not None:
                await send({"type": "websocket.send", "bytes": message["bytes"]})
            else:
                await send({"type": "websocket.send", "text": message["text"]})


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def _serving(
    app: _App, http: str = UVICORN_HTTP, tls: tuple[str, str] | None = None
) -> AsyncIterator[tuple[int, uvicorn.Server]]:
    """uvicorn on a free port of 127.0.0.1; `tls`: its certificate and key files."""
    listener = socket.socket()
    # Room for several MiB waiting in the kernel while the server does not read, so that
    # a read after a pause can fill the buffer (accepted sockets inherit it).
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * READ_BUFFER)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    certificate, key = tls or (None, None)
    config = uvicorn.Config(
        app,
        http=http,
        log_level="critical",
        lifespan="off",
        ssl_certfile=certificate,
        ssl_keyfile=key,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        await _until(lambda: server.started, "the server to start")
        yield port, server
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, DEADLINE)
        listener.close()


def _head(path: str, body: bytes, extra: str = "") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode()


async def _answer(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One response: its status line and its body (content-length framed)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status, *headers = head.split(b"\r\n")
    [length] = [h.split(b":")[1] for h in headers if h.lower().startswith(b"content-length:")]
    return status, await reader.readexactly(int(length))


async def _post(
    port: int, body: bytes, tls: ssl.SSLContext | None = None
) -> tuple[asyncio.Task[bytes], asyncio.StreamWriter]:
    """Start sending `body`; the task ends with the answer's body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls)

    async def exchange() -> bytes:
        writer.write(_head("/", body))
        for start in range(0, len(body), 64 * 1024):
            writer.write(body[start : start + 64 * 1024])
            await writer.drain()
        status, answer = await _answer(reader)
        assert status == b"HTTP/1.1 200 OK"
        return answer

    return asyncio.create_task(exchange()), writer


def _sha(path: str, body: bytes) -> bytes:
    return f"{path} {hashlib.sha256(body).hexdigest()}".encode()


def _connection(server: uvicorn.Server) -> tuple[ParleyHttpProtocol, _HttpProtocol]:
    """The one connection's protocol as the event loop reads it, and uvicorn's within it."""
    [http] = server.server_state.connections
    assert isinstance(http, _HttpProtocol)
    outer = http.transport.get_protocol()
    assert isinstance(outer, ParleyHttpProtocol) and outer.http is http
    return outer, http


def test_the_event_loops_read_it_as_a_buffered_protocol() -> None:
    # uvloop reads a protocol through `get_buffer` only if it is not an asyncio.Protocol
    # (uvicorn's protocol is one); asyncio only if it is an asyncio.BufferedProtocol.
    assert issubclass(ParleyHttpProtocol, asyncio.BufferedProtocol)
    assert not issubclass(ParleyHttpProtocol, asyncio.Protocol)


def test_a_slow_app_holds_at_most_the_window_and_gets_every_byte(run: Run) -> None:
    async def scenario() -> None:
        body = os.urandom(24 * 1024 * 1024)
        app = _App(free=False)
        async with _serving(app) as (port, server):
            sending, writer = await _post(port, body)
            await asyncio.wait_for(app.first.wait(), DEADLINE)
            _, http = _connection(server)
            pauses: list[list[int]] = []  # the pieces waiting at each pause
            for _ in range(3):
                # The app is not reading: the server must stop once the window is full.
                await _until(lambda: http.flow.read_paused, "reading to pause")
                waiting = http.cycle.body
                assert isinstance(waiting, _Pieces)
                assert BODY_WINDOW < len(waiting) <= BODY_WINDOW + READ_BUFFER
                pauses.append([len(piece) for piece in waiting.pieces])
                taken = len(app.sizes)
                app.allowed.release()  # one message more, and the server reads again
                await _until(lambda: len(app.sizes) > taken, "the app to read")  # noqa: B023
            app.free = True
            app.allowed.release()
            answer = await asyncio.wait_for(sending, DEADLINE)
            writer.close()
        assert answer == _sha("/", body)
        assert sum(app.sizes) == len(body)
        assert max(app.sizes) <= BODY_WINDOW + READ_BUFFER
        # Once the kernel holds more than a plain protocol's read, the reads are larger:
        # the loop reads into the protocol's own buffer. A full read passes the window
        # on its own, so the app is handed that one piece rather than several joined.
        assert max(max(pieces) for pieces in pauses) > PLAIN_READ_MAX
        assert any(len(pieces) == 1 for pieces in pauses[1:]), pauses

    run(scenario())


def test_a_body_read_as_it_comes_arrives_whole_and_in_order(run: Run) -> None:
    async def scenario() -> None:
        body = os.urandom(8 * 1024 * 1024 + 12345)
        app = _App(free=True)
        async with _serving(app) as (port, _server):
            sending, writer = await _post(port, body)
            answer = await asyncio.wait_for(sending, DEADLINE)
            writer.close()
        assert answer == _sha("/", body)
        assert max(app.sizes) <= BODY_WINDOW + READ_BUFFER

    run(scenario())


def _certificate(directory: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1, and its key: their files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(directory / "cert.pem"), str(directory / "key.pem")


def test_a_body_over_tls_arrives_whole(run: Run, tmp_path: Path) -> None:
    """With TLS the loop's SSL layer reads the socket and fills the protocol's buffer."""

    async def scenario() -> None:
        body = os.urandom(8 * 1024 * 1024 + 321)
        tls = _certificate(tmp_path)
        client = ssl.create_default_context(cafile=tls[0])
        async with _serving(_App(free=True), tls=tls) as (port, _server):
            sending, writer = await _post(port, body, client)
            answer = await asyncio.wait_for(sending, DEADLINE)
            writer.close()
        assert answer == _sha("/", body)

    run(scenario())


@pytest.mark.parametrize("http", sorted(HTTP_PROTOCOLS))
def test_pipelined_requests_on_one_connection_are_answered_in_order(run: Run, http: str) -> None:
    async def scenario() -> None:
        bodies = [("/a", b"hello"), ("/b", os.urandom(3 * READ_BUFFER + 7)), ("/c", b"")]
        app = _App(free=True)
        async with _serving(app, HTTP_PROTOCOLS[http]) as (port, _server):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"".join(_head(path, body) + body for path, body in bodies))
            for path, body in bodies:
                status, answer = await asyncio.wait_for(_answer(reader), DEADLINE)
                assert (status, answer) == (b"HTTP/1.1 200 OK", _sha(path, body))
            # The connection is kept: a request after the answers is served on it.
            writer.write(_head("/d", b"again") + b"again")
            assert (await asyncio.wait_for(_answer(reader), DEADLINE))[1] == _sha("/d", b"again")
            writer.close()

    run(scenario())


@pytest.mark.parametrize("http", sorted(HTTP_PROTOCOLS))
def test_a_malformed_request_is_answered_400_and_closed(run: Run, http: str) -> None:
    async def scenario() -> None:
        async with _serving(_App(free=True), HTTP_PROTOCOLS[http]) as (port, _server):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(_head("/a", b"ok") + b"ok")
            assert (await asyncio.wait_for(_answer(reader), DEADLINE))[1] == _sha("/a", b"ok")
            writer.write(b"NOT HTTP AT ALL\r\n\r\n")  # on the kept connection
            rest = await asyncio.wait_for(reader.read(), DEADLINE)  # to the server's close
            assert rest.startswith(b"HTTP/1.1 400 Bad Request\r\n")
            writer.close()

    run(scenario())


@pytest.mark.parametrize("http", sorted(HTTP_PROTOCOLS))
def test_a_websocket_upgrade_hands_the_connection_over(run: Run, http: str) -> None:
    async def scenario() -> None:
        large = os.urandom(3 * READ_BUFFER + 5)
        async with _serving(_App(free=True), HTTP_PROTOCOLS[http]) as (port, _server):
            url = f"ws://127.0.0.1:{port}/ws"
            async with connect(url, max_size=None, compression=None) as socket_:
                for message in ("hello", large, b"x", "bye"):
                    await socket_.send(message)
                    assert await asyncio.wait_for(socket_.recv(), DEADLINE) == message

    run(scenario())


@pytest.mark.parametrize("http", sorted(HTTP_PROTOCOLS))
def test_an_upgrade_to_another_protocol_is_served_as_http(run: Run, http: str) -> None:
    async def scenario() -> None:
        upgrade = (
            "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
            "HTTP2-Settings: AAMAAABkAAQAAP__\r\n"
        )
        async with _serving(_App(free=True), HTTP_PROTOCOLS[http]) as (port, _server):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(_head("/h2c", b"body", upgrade) + b"body")
            status, answer = await asyncio.wait_for(_answer(reader), DEADLINE)
            assert status == b"HTTP/1.1 200 OK"
            assert answer in (_sha("/h2c", b"body"), _sha("/h2c", b""))  # as uvicorn does
            writer.close()

    run(scenario())


def test_connections_of_one_loop_share_one_read_buffer(run: Run) -> None:
    async def scenario() -> None:
        app = _App(free=True)
        async with _serving(app) as (port, server):
            writers = []
            for _ in range(3):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(_head("/", b"x") + b"x")
                await asyncio.wait_for(_answer(reader), DEADLINE)
                writers.append(writer)
            buffers = {
                id(http.transport.get_protocol().get_buffer(-1))  # type: ignore[attr-defined]
                for http in server.server_state.connections
            }
            assert len(server.server_state.connections) == 3 and len(buffers) == 1
            for writer in writers:
                writer.close()

    run(scenario())
    # Another thread's loop reads into a buffer of its own.
    here, there = _read_buffer.view, []
    thread = threading.Thread(target=lambda: there.append(_read_buffer.view))
    thread.start()
    thread.join()
    assert there[0] is not here and len(there[0]) == len(here) == READ_BUFFER


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
