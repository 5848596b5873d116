"""httpx's transport for the models' streams, with httpcore's idle check made cheap.

httpcore's pool (1.0) looks at its connections whenever a request starts or ends: every
idle one is asked whether its socket is readable (a server that closed it). On the anyio
stream httpx uses, each such question first builds the stream's table of attributes
(anyio's `extra_attributes`: a dict of lambdas and a `getpeername` system call) to find
the socket, then polls it. With 20 idle connections kept and 50 streams at once that was
~50 questions an ask, ~0.6 ms of the API's CPU per 200-token ask, the same order as the
whole SSE response (bench/README.md, "AI streaming, sixth pass").

`stream_transport()` gives httpx's own `AsyncHTTPTransport` (same pool, limits, TLS,
exceptions) whose pool connects through `_Backend`: httpcore's anyio backend, each
stream keeping the socket it was opened on, so the question is one `poll`, as before.
Nothing else changes: reads, writes, TLS and closing are the anyio stream's own calls.

Where the environment names a proxy (`HTTP_PROXY`, `ALL_PROXY`, ...), httpx mounts one
for the clients it builds itself and not for a transport given to it: there no
transport is made (`None`) and the client is built as before.
"""

# The `timeout` parameters are httpcore's interface (AsyncNetworkStream, AsyncNetworkBackend).
# ruff: noqa: ASYNC109

from __future__ import annotations

import select
import ssl
import urllib.request
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

# What httpx's `AsyncHTTPTransport` keeps its pool as (httpx 0.28). If a release renames
# it, `stream_transport()` gives httpx's transport untouched (tests/unit/ai notices).
_POOL = "_pool"


class _Stream(httpcore.AsyncNetworkStream):
    """httpcore's anyio stream, with the socket it was opened on looked up once."""

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._socket = stream.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return _readable(self._socket)
        if info == "socket":
            return self._socket
        return self._stream.get_extra_info(info)


def _readable(sock: Any) -> bool:
    """What httpcore's anyio stream answers for `is_readable` (`httpcore._utils`'s
    `is_socket_readable`): a socket without a descriptor (closed) counts as readable, its
    next read the end; else whether a read would return at once."""
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    if not hasattr(select, "poll"):  # pragma: no cover - not on Linux
        return bool(select.select([fd], [], [], 0)[0])
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class _Backend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend (what its default picks under asyncio), with `_Stream`s."""

    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return _Stream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )
        return _Stream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def stream_transport(
    *, verify: ssl.SSLContext | bool = True, limits: httpx.Limits | None = None
) -> httpx.AsyncHTTPTransport | None:
    """httpx's transport as an `httpx.AsyncClient(verify=verify, limits=limits)` builds it
    (httpx's default limits when None), with the cheap idle check; None where the
    environment names a proxy (see the module's notes)."""
    if urllib.request.getproxies():
        return None
    limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
    verify = httpx.create_ssl_context(verify=verify)  # as the client would: loaded once
    transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits)
    if not isinstance(getattr(transport, _POOL, None), httpcore.AsyncConnectionPool):
        return transport
    setattr(
        transport,
        _POOL,
        httpcore.AsyncConnectionPool(
            ssl_context=verify,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_Backend(),
        ),
    )
    return transport
