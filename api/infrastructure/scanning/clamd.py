"""`MalwareScanner` adapters: ClamAV's daemon (clamd) over TCP, and none.

clamd's `zINSTREAM` command takes the file as it comes: each chunk is sent as a 4-byte
big-endian length and the bytes, a zero length ends it, and clamd answers one
NUL-terminated line: `stream: OK`, `stream: <signature> FOUND`, or `... ERROR` (for
instance `INSTREAM size limit exceeded. ERROR` past its `StreamMaxLength`). The file is
fed while it is stored, so scanning adds no pass over the bytes; the verdict is read once
the last chunk is stored, before the file's record is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Awaitable
from typing import TypeVar

from api.domain.errors import ServiceUnavailable
from api.domain.files.scanning import MalwareScan

log = logging.getLogger(__name__)

SCANNER = "malware scanner"
T = TypeVar("T")
SEND_PIECE = 1024 * 1024  # clamd reads chunks into a buffer of its own: bounded pieces


class NoMalwareScanner:
    """`MALWARE_SCANNER=off`: files are stored unscanned."""

    @property
    def max_bytes(self) -> int | None:
        return None

    async def begin(self) -> MalwareScan | None:
        return None


class ClamdScanner:
    """Scans each file on its own connection to clamd at `host`:`port`; every connect,
    write and the verdict are bounded by `timeout_seconds` (503 past it)."""

    def __init__(self, host: str, port: int, timeout_seconds: float, max_bytes: int) -> None:
        self._host = host
        self._port = port
        self._timeout = timeout_seconds
        self._max_bytes = max_bytes

    @property
    def max_bytes(self) -> int | None:
        return self._max_bytes

    async def begin(self) -> ClamdScan:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self._host, self._port), self._timeout
            )
        except (OSError, TimeoutError) as exc:
            log.warning("the malware scanner cannot be reached (%s)", type(exc).__name__)
            raise ServiceUnavailable(SCANNER) from exc
        writer.write(b"zINSTREAM\0")
        return ClamdScan(reader, writer, self._timeout)


class ClamdScan:
    """One `zINSTREAM` session."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._timeout = timeout
        self._closed = False

    async def feed(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        for start in range(0, len(view), SEND_PIECE):
            piece = view[start : start + SEND_PIECE]
            self._writer.write(struct.pack(">I", len(piece)))
            self._writer.write(piece)
        await self._bounded(self._writer.drain())

    async def threat(self) -> str | None:
        self._writer.write(struct.pack(">I", 0))
        await self._bounded(self._writer.drain())
        reply = await self._bounded(self._reader.readuntil(b"\0"))
        await self.abort()
        return _verdict(reply[:-1].decode("utf-8", "replace").strip())

    async def abort(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(self._writer.wait_closed(), 1)

    async def _bounded(self, step: Awaitable[T]) -> T:
        """`step` within the timeout; a failure of the scanner is 503 (and the session ends)."""
        try:
            return await asyncio.wait_for(step, self._timeout)
        except (
            OSError,
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ) as exc:
            await self.abort()
            log.warning("the malware scanner failed during a scan (%s)", type(exc).__name__)
            raise ServiceUnavailable(SCANNER) from exc


def _verdict(reply: str) -> str | None:
    """None for `stream: OK`, the signature's name for `stream: <name> FOUND`; any other
    answer (an `ERROR`) is 503."""
    answer = reply.removeprefix("stream:").strip()
    if answer == "OK":
        return None
    if answer.endswith(" FOUND"):
        return answer.removesuffix(" FOUND").strip() or "an unnamed threat"
    log.warning("the malware scanner could not scan a file: %s", reply[:200])
    raise ServiceUnavailable(SCANNER)
