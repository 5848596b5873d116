"""uvicorn's httptools protocol reading into a buffer of its own, with a wider read window
and no copies of the body.

Run uvicorn with `--http api.interfaces.http.uvicorn_protocol:ParleyHttpProtocol` (the
value of `UVICORN_HTTP`; `scripts/serve`, the Dockerfile's command and `bench/` do).

uvicorn (`uvicorn.protocols.http.httptools_impl`, 0.54) buffers a request's body in a
`bytearray` until the app's next `receive()`: every piece the socket gives is copied into
it (`body += piece`), copied again into the message (`bytes(body)`), and reading stops as
soon as more than 64 KiB wait (`HIGH_WATER_LIMIT`), to start again on the next
`receive()`. A read of the event loop is up to 256 KiB, so on an upload each read pauses
reading and each `receive()` resumes it (two `epoll_ctl`s), and each byte is copied twice
more than it needs to be (bench/README.md, "Uploads, fourth pass": about 0.1 ms of the
loop's CPU per MiB).

Here the pieces are kept as they came (`_Pieces`): a `receive()` taking one piece hands
that very object to the app, several are joined once. Reading pauses past `BODY_WINDOW`
(1 MiB) waiting, so at most that plus one read is held per connection, whatever the app's
pace; nothing else changes. What this relies on in uvicorn's cycle (checked by
tests/unit/kernel/test_uvicorn_protocol.py against the installed uvicorn): `receive()`
hands `bytes(cycle.body)` to the app and then sets `cycle.body = bytearray()`, and
`on_body` is the only other place that touches `cycle.body`.

The socket is read as an `asyncio.BufferedProtocol` (`ParleyHttpProtocol`): the event
loop reads straight into a buffer of `READ_BUFFER` bytes (2 MiB) and the bytes read go to
uvicorn's `data_received` as a `memoryview` of it, which httptools parses in place. With a
plain protocol, uvloop reads into its own 256 KiB buffer and copies each read into a new
`bytes` before the protocol sees it: that copy is gone, and a large body comes in reads of
up to 2 MiB instead of 250 KiB, each past the window on its own, so that a `receive()`
mostly takes one piece as it came rather than joining several (a 1 MiB buffer gave two
pieces a `receive()`, joined: a copy of every byte again). Fewer reads also mean fewer
callbacks, parser calls, `receive()`s, multipart parser calls and hand-offs to the hashing
and writing threads (bench/README.md, "Uploads, fifth pass"). httptools copies out
everything it hands on (the URL, headers and body pieces are `bytes`), and nothing else
keeps the `memoryview`, so the buffer is free again once `data_received` returns: one
buffer serves every connection of an event loop (one per thread), as uvloop's own does,
and an idle connection holds none. At most `BODY_WINDOW` + `READ_BUFFER` of unread body is
held per connection. uvicorn's protocol derives from `asyncio.Protocol`, which uvloop reads
as a plain protocol whatever methods it has, so `ParleyHttpProtocol` wraps it
(`_HttpProtocol`, the one uvicorn's server state knows) rather than deriving from it;
everything but the read is passed on unchanged (keep-alive, pipelining, the 400 on a
malformed request), and a WebSocket upgrade hands the transport to uvicorn's WebSocket
protocol as before (the loop then reads as for any plain protocol). With TLS the loop's
SSL layer fills the buffer.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

UVICORN_HTTP = "api.interfaces.http.uvicorn_protocol:ParleyHttpProtocol"
BODY_WINDOW = 1024 * 1024  # body bytes waiting for the app before reading pauses
READ_BUFFER = 2 * 1024 * 1024  # the most one socket read gives


class _Pieces:
    """A request body's pieces waiting for the app, in order, not copied."""

    __slots__ = ("pieces", "size")

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.size = 0

    def __iadd__(self, piece: bytes) -> _Pieces:
        self.pieces.append(piece)
        self.size += len(piece)
        return self

    def __len__(self) -> int:
        return self.size

    def __bytes__(self) -> bytes:
        return b"".join(self.pieces)  # one piece: that piece itself, no copy


class _HttpProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` buffering the body as `_Pieces`, reading up to `BODY_WINDOW`."""

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
            return  # as uvicorn's own: no body for an upgrade or an answered request
        waiting: object = cycle.body
        if isinstance(waiting, _Pieces):
            pieces = waiting
        else:  # the fresh bytearray each receive() leaves
            pieces = _Pieces()
            if isinstance(waiting, bytes | bytearray) and waiting:
                pieces += bytes(waiting)
            cycle.body = pieces  # type: ignore[assignment]
        pieces += body
        if pieces.size > BODY_WINDOW:
            self.flow.pause_reading()
        cycle.message_event.set()


class _ReadBuffer(threading.local):
    """The buffer socket reads go to, one per thread (an event loop's reads never overlap:
    each is parsed before the next starts)."""

    def __init__(self) -> None:
        self.view = memoryview(bytearray(READ_BUFFER))


_read_buffer = _ReadBuffer()


class ParleyHttpProtocol(asyncio.BufferedProtocol):
    """What uvicorn serves HTTP with: `_HttpProtocol`, fed from `_read_buffer`."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.http = _HttpProtocol(config, server_state, app_state, _loop)
        self._view = _read_buffer.view

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        self.http.data_received(self._view[:nbytes])  # type: ignore[arg-type]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.http.connection_made(transport)  # type: ignore[arg-type]

    def connection_lost(self, exc: Exception | None) -> None:
        self.http.connection_lost(exc)

    def eof_received(self) -> bool | None:
        self.http.eof_received()
        return None

    def pause_writing(self) -> None:
        self.http.pause_writing()

    def resume_writing(self) -> None:
        self.http.resume_writing()
