"""uvicorn's httptools protocol with a wider read window and no copies of the body.

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
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

UVICORN_HTTP = "api.interfaces.http.uvicorn_protocol:ParleyHttpProtocol"
BODY_WINDOW = 1024 * 1024  # body bytes waiting for the app before reading pauses


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


class ParleyHttpProtocol(HttpToolsProtocol):
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
