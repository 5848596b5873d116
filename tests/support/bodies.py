"""Request bodies streamed in chunks that record how much of them the server took, to
prove what a route read (or did not) before it answered; and multipart framing for them."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator

from tests.support.files import PNG

BOUNDARY = "parley-test-boundary-7e3c"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
CLOSING = f"\r\n--{BOUNDARY}--\r\n".encode()


def part_head(field: str = "file", filename: str | None = "big.png", first: bool = True) -> bytes:
    """The boundary and headers opening a part (a file part when it has a filename)."""
    named = f'; filename="{filename}"' if filename is not None else ""
    kind = "Content-Type: image/png\r\n" if filename is not None else ""
    lead = "" if first else "\r\n"
    return (
        f'{lead}--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"{named}\r\n{kind}\r\n'
    ).encode()


class StreamedBody:
    """`prefix`, then `content` followed by `filler` bytes (random, or `fill` repeated),
    then `suffix`, handed over in chunks only when the server asks for them (`taken`
    counts what it took). Given to httpx as `content=`, it is sent chunked unless a
    Content-Length header is set."""

    def __init__(
        self,
        prefix: bytes,
        content: bytes,
        filler: int,
        suffix: bytes = b"",
        *,
        chunk: int = 64 * 1024,
        fill: bytes | None = None,
    ) -> None:
        self.prefix, self.content, self.filler, self.suffix = prefix, content, filler, suffix
        self.chunk = chunk
        self.taken = 0
        self._block = fill * chunk if fill else os.urandom(chunk)  # random unless told

    @property
    def size(self) -> int:
        return len(self.prefix) + len(self.content) + self.filler + len(self.suffix)

    @property
    def content_sha256(self) -> str:
        """The SHA-256 of `content` and the filler (what a file part carries)."""
        digest = hashlib.sha256(self.content)
        for piece in self._filler():
            digest.update(piece)
        return digest.hexdigest()

    def _filler(self) -> Iterator[bytes]:
        left = self.filler
        while left > 0:
            piece = self._block[: min(left, self.chunk)]
            left -= len(piece)
            yield piece

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._pieces()

    async def _pieces(self) -> AsyncIterator[bytes]:
        for piece in (self.prefix + self.content, *self._filler(), self.suffix):
            if piece:
                self.taken += len(piece)
                yield piece


def streamed_file(size: int) -> StreamedBody:
    """A multipart body with one `file` part: a PNG signature, then `size` more bytes."""
    return StreamedBody(part_head(), PNG, size, CLOSING)


def length(body: StreamedBody) -> dict[str, str]:
    """The Content-Length header announcing `body`'s true size."""
    return {"Content-Length": str(body.size)}
