"""The models' httpx transport (`api.infrastructure.ai.transport`): httpx's own pool, whose
idle check no longer builds anyio's attribute table of a connection each time."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio._backends._asyncio as anyio_asyncio
import httpx
import pytest

from api.infrastructure.ai.ollama_provider import OllamaProvider
from api.infrastructure.ai.transport import stream_transport

RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"


@contextlib.asynccontextmanager
async def http_server(close_after_reply: bool = False) -> AsyncIterator[tuple[str, list[int]]]:
    """A keep-alive HTTP/1.1 server answering `ok` to every request; `close_after_reply`:
    it closes each connection once it has answered (a server ending an idle connection).
    Gives its URL and the number of connections it accepted (a list of one counter)."""
    accepted = [0]
    writers: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted[0] += 1
        writers.append(writer)
        with contextlib.suppress(ConnectionError):
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(RESPONSE)
                await writer.drain()
                if close_after_reply:
                    writer.close()
                    return

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", accepted
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


class _Lookups:
    """Counts anyio building a socket stream's attribute table (`extra_attributes`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = anyio_asyncio.SocketStream.extra_attributes

        def counted(stream: Any) -> Any:
            self.count += 1
            return original.fget(stream)  # type: ignore[attr-defined]

        monkeypatch.setattr(anyio_asyncio.SocketStream, "extra_attributes", property(counted))


async def test_idle_connections_are_checked_without_anyio_attribute_lookups(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    transport = stream_transport()
    assert transport is not None
    lookups = _Lookups(monkeypatch)
    async with http_server() as (url, accepted), httpx.AsyncClient(transport=transport) as client:
        # 10 connections at once, then idle in the pool; 20 more requests at once reuse them,
        # the pool checking the idle ones as each request starts and ends.
        answers = await asyncio.gather(*(client.get(url) for _ in range(10)))
        lookups.count = 0
        answers += await asyncio.gather(*(client.get(url) for _ in range(20)))
        assert [a.text for a in answers] == ["ok"] * 30
        assert accepted[0] <= 20
    # httpx's own transport asks anyio once per check (over a hundred here): none now.
    assert lookups.count == 0


async def test_httpx_own_transport_does_look_up_for_each_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cost the transport removes (if httpx or httpcore stop paying it, this fails and
    `transport` can go)."""
    lookups = _Lookups(monkeypatch)
    async with http_server() as (url, _), httpx.AsyncClient() as client:
        await asyncio.gather(*(client.get(url) for _ in range(10)))
        lookups.count = 0
        await asyncio.gather(*(client.get(url) for _ in range(20)))
    assert lookups.count > 20


async def test_a_connection_the_server_closed_is_not_reused() -> None:
    transport = stream_transport()
    assert transport is not None
    async with (
        http_server(close_after_reply=True) as (url, accepted),
        httpx.AsyncClient(transport=transport) as client,
    ):
        for number in range(1, 6):
            answer = await client.get(url)  # never a ReadError on the closed one
            assert answer.text == "ok"
            assert accepted[0] == number
            for _ in range(200):  # until the pool can see the close (readable: EOF)
                await asyncio.sleep(0.005)
                pool_streams = [c for c in _connections(transport) if c.is_idle()]
                if not pool_streams or all(c.has_expired() for c in pool_streams):
                    break


def _connections(transport: httpx.AsyncHTTPTransport) -> list[Any]:
    return list(transport._pool.connections)


async def test_tls_context_and_limits_are_the_ones_given() -> None:
    context = ssl.create_default_context()
    limits = httpx.Limits(max_connections=7, max_keepalive_connections=3, keepalive_expiry=1.5)
    transport = stream_transport(verify=context, limits=limits)
    assert transport is not None
    pool = transport._pool
    assert pool._ssl_context is context
    assert (pool._max_connections, pool._max_keepalive_connections) == (7, 3)
    assert pool._keepalive_expiry == 1.5


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "https_proxy", "ALL_PROXY"])
def test_no_transport_where_the_environment_names_a_proxy(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """httpx mounts the environment's proxies only for the transports it builds itself."""
    monkeypatch.setenv(variable, "http://proxy.example:3128")
    assert stream_transport() is None
    provider = OllamaProvider(
        httpx.AsyncClient(), host="http://127.0.0.1:1", only=[], timeout=httpx.Timeout(5)
    )
    chat = provider.chat_model("llama3.2:latest")  # built as before, by httpx
    client = chat._async_client._client  # type: ignore[attr-defined]
    pools = [client._transport._pool, *(t._pool for t in client._mounts.values() if t)]
    assert len(pools) == 2  # the direct one and the proxy's
    assert all(pool._max_connections == sys.maxsize for pool in pools)  # no limit


async def test_an_ollama_model_streams_through_the_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    provider = OllamaProvider(
        httpx.AsyncClient(), host="http://127.0.0.1:1", only=[], timeout=httpx.Timeout(5)
    )
    chat = provider.chat_model("llama3.2:latest")
    client = chat._async_client._client  # type: ignore[attr-defined]
    transport = client._transport
    assert isinstance(transport, httpx.AsyncHTTPTransport)
    assert type(transport._pool._network_backend).__name__ == "_Backend"
    pool = transport._pool
    assert (pool._max_connections, pool._max_keepalive_connections) == (sys.maxsize, 20)
