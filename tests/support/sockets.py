"""The inbox socket over real TCP for tests: live servers with chosen realtime settings,
a `websockets` client, and helpers reading frames with generous deadlines."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from api.config import RealtimeSettings, Settings
from tests.support.app import AppClient, serve_over_tcp

WS_PATH = "/api/v1/ws"
DEADLINE = 15.0
FAST = {  # no heartbeats or idle closes during a test unless it asks for them
    "auth_timeout_seconds": 5,
    "heartbeat_seconds": 600,
    "idle_timeout_seconds": 1200,
    "read_block_ms": 2000,
}


def with_realtime(settings: Settings, **limits: Any) -> Settings:
    realtime = RealtimeSettings(_env_file=None, **{**FAST, **limits})
    return settings.model_copy(update={"realtime": realtime})


@dataclass
class LiveServer:
    local: AppClient  # in-process, to arrange through `local.container`
    remote: httpx.AsyncClient  # over TCP
    ws_url: str


@asynccontextmanager
async def live_server(settings: Settings) -> AsyncIterator[LiveServer]:
    async with serve_over_tcp(settings) as (local, remote):
        base = str(remote.base_url).rstrip("/")
        yield LiveServer(local, remote, "ws" + base.removeprefix("http") + WS_PATH)


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


@asynccontextmanager
async def socket_to(
    server: LiveServer,
    token: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    receive_buffer: int | None = None,
) -> AsyncIterator[ClientConnection]:
    """A client socket (with `?access_token=` when `token` is given). `receive_buffer`
    shrinks the client's TCP receive buffer and its queue: a consumer that is slow for real."""
    url = server.ws_url + (f"?access_token={token}" if token else "")
    options: dict[str, Any] = {
        "open_timeout": DEADLINE,
        "max_size": 2**24,
        "ping_interval": None,
        "compression": None,  # what is sent is what crosses the wire (the slow consumer)
    }
    if receive_buffer is not None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        host, port = server.ws_url.split("//")[1].split("/")[0].split(":")
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        options.update(sock=sock, max_queue=1)
    async with connect(url, additional_headers=headers, **options) as ws:
        yield ws


async def next_frame(ws: ClientConnection, deadline: float = DEADLINE) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), deadline)
    return cast(dict[str, Any], json.loads(raw))


async def frame_where(
    ws: ClientConnection, wanted: Callable[[dict[str, Any]], bool], deadline: float = DEADLINE
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The first frame `wanted` accepts, and the frames before it."""
    skipped: list[dict[str, Any]] = []
    async with asyncio.timeout(deadline):
        while True:
            frame = await next_frame(ws, deadline)
            if wanted(frame):
                return frame, skipped
            skipped.append(frame)


async def of_type(ws: ClientConnection, kind: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return await frame_where(ws, lambda frame: frame["type"] == kind)


async def send(ws: ClientConnection, **frame: Any) -> None:
    await ws.send(json.dumps(frame))


async def close_code(ws: ClientConnection, deadline: float = DEADLINE) -> int | None:
    """Read (and drop) frames until the server closes the socket: its close code."""
    async with asyncio.timeout(deadline):
        try:
            while True:
                await ws.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None


async def signed_in_socket(ws: ClientConnection) -> dict[str, Any]:
    ready = await next_frame(ws)
    assert ready["type"] == "ready", ready
    return ready


async def subscribed(ws: ClientConnection, topic: str = "inbox", **extra: Any) -> None:
    await send(ws, type="subscribe", topic=topic, **extra)
    reply = await next_frame(ws)
    assert reply == {"type": "subscribed", "topic": topic, **extra}, reply
