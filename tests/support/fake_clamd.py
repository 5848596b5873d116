"""A fake of ClamAV's daemon (clamd) speaking its wire protocol over TCP: the
`zINSTREAM` (or `nINSTREAM`) command, then chunks each led by a 4-byte big-endian length,
a zero length to end; one answer, `stream: OK`, `stream: <signature> FOUND` or
`INSTREAM size limit exceeded. ERROR`, NUL- (or newline-) terminated. It "detects" the
EICAR test file (a file that starts with the EICAR string), as ClamAV does."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

# The EICAR anti-virus test file, assembled here so that no scanner flags this source.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-" + b"TEST-FILE!$H+H*"
SIGNATURE = "Win.Test.EICAR_HDB-1"


@dataclass
class FakeClamd:
    """`stream_max` is clamd's StreamMaxLength; `hang` holds every answer until the
    server stops; what each finished scan received is in `scanned`."""

    stream_max: int = 25 * 1024 * 1024
    hang: bool = False
    scanned: list[bytes] = field(default_factory=list)
    port: int = 0
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


async def _answer(fake: FakeClamd, reader: asyncio.StreamReader) -> bytes:
    prefix = await reader.readexactly(1)
    if prefix not in (b"z", b"n"):
        return b"UNKNOWN COMMAND\n"
    ending = b"\0" if prefix == b"z" else b"\n"
    if (await reader.readuntil(ending))[:-1] != b"INSTREAM":
        return b"UNKNOWN COMMAND" + ending
    data = bytearray()
    while size := struct.unpack(">I", await reader.readexactly(4))[0]:
        data += await reader.readexactly(size)
        if len(data) > fake.stream_max:
            return b"INSTREAM size limit exceeded. ERROR" + ending
    fake.scanned.append(bytes(data))
    if fake.hang:
        await fake.stopping.wait()
    found = bytes(data).startswith(EICAR)
    return (f"stream: {SIGNATURE} FOUND" if found else "stream: OK").encode() + ending


async def _session(
    fake: FakeClamd, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        writer.write(await _answer(fake, reader))
        await writer.drain()
    writer.close()


@asynccontextmanager
async def serve_fake_clamd(fake: FakeClamd) -> AsyncIterator[int]:
    """Serve `fake` on a free port of 127.0.0.1; yields the port (also `fake.port`)."""
    server = await asyncio.start_server(lambda r, w: _session(fake, r, w), "127.0.0.1", 0)
    fake.port = server.sockets[0].getsockname()[1]
    try:
        yield fake.port
    finally:
        fake.stopping.set()
        server.close()
        await server.wait_closed()
