"""The `file` part of a multipart/form-data request body, streamed as it arrives.

FastAPI's `File()`/`UploadFile` parameters make Starlette parse the whole form into
temporary files before the route's dependencies run: authentication would come after the
bytes were on disk. Upload routes take the `Request` instead and, once the caller is
authenticated, call `read_file_part(request)`. It reads the body up to the headers of the
part named `file` (other parts before it are discarded) and gives that part's filename
and its bytes as an async iterator pulling the body as it is consumed: no temporary file,
never the whole file in memory. Before the iterator ends, the rest of the body is read
(and discarded), so the body limit covers all of it, and a body that is cut short or
malformed fails the upload rather than storing a truncated file.

Text parts (no filename) of at most 64 KiB are kept in `FilePart.fields` by name as they
are read: those before the file at once, those after it once its chunks are consumed (an
import's `mapping` and `dry_run`); longer ones are read and discarded like other parts.

Errors are `InvalidInput` (422): not multipart/form-data, no boundary, malformed, no
`file` part, or a body ending (or the client leaving) before the file does.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

if TYPE_CHECKING:  # a TypedDict the module defines for type checkers only
    from python_multipart.multipart import MultipartCallbacks

from api.domain.errors import FieldProblem, InvalidInput

FILE_FIELD = "file"
MULTIPART_FORM = "multipart/form-data"
MAX_TEXT_PART = 64 * 1024


@dataclass(frozen=True)
class FilePart:
    filename: str
    chunks: AsyncGenerator[bytes, None]
    fields: dict[str, str] = field(default_factory=dict)  # text parts, filled as read


def _missing(field: str) -> InvalidInput:
    return InvalidInput(
        f"The body must be {MULTIPART_FORM} with a `{field}` part holding the file.",
        [FieldProblem(("body", field), "Field required")],
    )


def _malformed() -> InvalidInput:
    return InvalidInput(f"The {MULTIPART_FORM} body is malformed.")


def _decode(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


async def read_file_part(request: Request, field: str = FILE_FIELD) -> FilePart:
    """Read up to the headers of the `field` part; its bytes follow as they are pulled."""
    media_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if media_type != MULTIPART_FORM.encode() or not boundary:
        raise _missing(field)
    try:
        reader = _Reader(request.stream(), boundary, field)
    except FormParserError:
        raise _malformed() from None
    filename = await reader.find()
    return FilePart(filename=filename, chunks=reader.chunks(), fields=reader.fields)


class _Reader:
    """Feeds the body to python-multipart's push parser, keeping only the wanted part."""

    def __init__(self, stream: AsyncIterator[bytes], boundary: bytes, field: str) -> None:
        self._stream = stream
        self._field = field
        self._header = (b"", b"")
        self._disposition = b""
        self._in_file = self._file_seen = self._file_ended = self._ended = False
        self._filename = ""
        self._data: list[bytes] = []
        self.fields: dict[str, str] = {}
        self._text_name: str | None = None
        self._text: list[bytes] = []
        self._text_size = 0
        callbacks: MultipartCallbacks = {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_end": self._on_end,
        }
        self._parser = MultipartParser(boundary, callbacks)

    async def find(self) -> str:
        """Read until the file part's headers; its filename."""
        while not self._file_seen:
            if not await self._feed():
                raise _missing(self._field)
        return self._filename

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        """The file's bytes; then the rest of the body is read and checked."""
        while True:
            if self._data:
                pending, self._data = self._data, []
                yield b"".join(pending)
            if self._file_ended:
                break
            if not await self._feed():
                raise InvalidInput("The body ended before the file did.")
        while await self._feed():
            pass  # later parts are read (and counted against the limit), not kept
        if not self._ended:
            raise _malformed()

    async def _feed(self) -> bool:
        """Give the parser the next piece of the body; False once the body has ended."""
        try:
            chunk = await anext(self._stream, None)
        except ClientDisconnect:  # nobody will read the answer; no 500 in the logs
            raise InvalidInput("The client went away before the body ended.") from None
        try:
            if chunk is None:
                self._parser.finalize()
                return False
            if chunk:
                self._parser.write(chunk)
        except FormParserError:
            raise _malformed() from None
        return True

    def _on_part_begin(self) -> None:
        self._disposition = b""

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header = (self._header[0] + data[start:end], self._header[1])

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header = (self._header[0], self._header[1] + data[start:end])

    def _on_header_end(self) -> None:
        name, value = self._header
        if name.lower() == b"content-disposition":
            self._disposition = value
        self._header = (b"", b"")

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name, filename = options.get(b"name"), options.get(b"filename")
        if not self._file_seen and name == self._field.encode() and filename is not None:
            self._file_seen = self._in_file = True
            self._filename = _decode(filename)
        elif name is not None and filename is None:
            self._text_name, self._text, self._text_size = _decode(name), [], 0

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._data.append(data[start:end])
        elif self._text_name is not None:
            self._text_size += end - start
            if self._text_size <= MAX_TEXT_PART:
                self._text.append(data[start:end])

    def _on_part_end(self) -> None:
        if self._in_file:
            self._in_file, self._file_ended = False, True
        elif self._text_name is not None:
            if self._text_size <= MAX_TEXT_PART:  # a longer one is read, not kept
                self.fields.setdefault(self._text_name, _decode(b"".join(self._text)))
            self._text_name, self._text = None, []

    def _on_end(self) -> None:
        self._ended = True
