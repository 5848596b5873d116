"""The `DocumentReader` port: parse a document (pypdf, python-docx, the csv module) and
split its text into passages with LangChain's text splitters.

The bytes arrive streamed and are spooled (in memory up to `SPOOL_BYTES`, then on disk)
while they are counted: past `max_bytes` reading stops. Parsing and splitting are CPU
work and run in a worker thread, off the event loop. PDF and DOCX readers need the whole
file (their formats keep the index at the end), hence the spool rather than a stream.

- PDF: the text of every page (`extract_text`), pages apart by a blank line; an
  encrypted PDF opens only when its user password is empty.
- DOCX: paragraphs, then tables (one line per row, cells apart by ` | `).
- Text and Markdown: UTF-8 (undecodable bytes replaced); Markdown is split on its
  headings, code blocks and rules first (`MarkdownTextSplitter`).
- CSV: one line per row, `column: value` pairs apart by `; ` (the first row names the
  columns; the delimiter is sniffed among `,` `;` tab `|`), so a passage keeps whole rows
  with their headers.

Everything else is split by `RecursiveCharacterTextSplitter` (paragraphs, lines, words).
A document with no text (a scanned PDF), or more passages than `max_chunks`, is
`UnreadableDocument` with a sentence saying so, as is one the parser cannot read.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import tempfile
from collections.abc import AsyncIterator, Callable
from functools import cached_property
from typing import IO, TYPE_CHECKING

from api.domain.ai.documents import DocumentKind, UnreadableDocument

if TYPE_CHECKING:
    from langchain_text_splitters import TextSplitter

log = logging.getLogger(__name__)

SPOOL_BYTES = 1024 * 1024
CSV_DELIMITERS = ",;\t|"


class SplittingDocumentReader:
    """`DocumentReader` adapter."""

    def __init__(self, *, chunk_size: int, chunk_overlap: int, max_bytes: int, max_chunks: int):
        self._max_bytes = max_bytes
        self._max_chunks = max_chunks
        self._chunk_size = chunk_size
        self._chunk_overlap = chunk_overlap

    # The parsers and splitters are imported on the first document read (about a second of
    # imports, which every process that builds the container would pay otherwise).
    @cached_property
    def _plain(self) -> TextSplitter:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        return RecursiveCharacterTextSplitter(
            chunk_size=self._chunk_size, chunk_overlap=self._chunk_overlap
        )

    @cached_property
    def _markdown(self) -> TextSplitter:
        from langchain_text_splitters import MarkdownTextSplitter

        return MarkdownTextSplitter(chunk_size=self._chunk_size, chunk_overlap=self._chunk_overlap)

    async def passages(self, kind: DocumentKind, content: AsyncIterator[bytes]) -> list[str]:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            size = 0
            async for chunk in content:
                size += len(chunk)
                if size > self._max_bytes:
                    raise UnreadableDocument(
                        f"The document is larger than {self._max_bytes} bytes "
                        "(KNOWLEDGE_MAX_DOCUMENT_BYTES)."
                    )
                spool.write(chunk)
            spool.seek(0)
            return await asyncio.to_thread(self._read, kind, spool)

    def _read(self, kind: DocumentKind, spool: IO[bytes]) -> list[str]:
        text = extract_text(kind, spool)
        splitter: TextSplitter = self._markdown if kind is DocumentKind.MARKDOWN else self._plain
        passages = [p.strip() for p in splitter.split_text(text) if p.strip()]
        if not passages:
            raise UnreadableDocument(
                "The document has no text to index (a scanned PDF or image needs OCR first)."
            )
        if len(passages) > self._max_chunks:
            raise UnreadableDocument(
                f"The document gives {len(passages)} passages, more than "
                f"{self._max_chunks} (KNOWLEDGE_MAX_CHUNKS); split it into smaller files."
            )
        return passages


def extract_text(kind: DocumentKind, source: IO[bytes]) -> str:
    """The document's text; `UnreadableDocument` when its parser cannot read it."""
    readers: dict[DocumentKind, Callable[[IO[bytes]], str]] = {
        DocumentKind.PDF: _pdf_text,
        DocumentKind.DOCX: _docx_text,
        DocumentKind.CSV: lambda raw: _csv_text(_decoded(raw)),
        DocumentKind.TEXT: _decoded,
        DocumentKind.MARKDOWN: _decoded,
    }
    try:
        return readers[kind](source)
    except UnreadableDocument:
        raise
    except Exception as exc:  # each parser has its own errors; all mean "cannot read it"
        log.info("a %s document could not be parsed: %s", kind.value, type(exc).__name__)
        raise UnreadableDocument(
            f"The file cannot be read as a {kind.value.upper()} document ({type(exc).__name__})."
        ) from exc


def _pdf_text(source: IO[bytes]) -> str:
    import pypdf

    reader = pypdf.PdfReader(source)
    if reader.is_encrypted and not reader.decrypt(""):
        raise UnreadableDocument("The PDF is protected by a password.")
    pages = (page.extract_text() or "" for page in reader.pages)
    return "\n\n".join(page.strip() for page in pages if page.strip())


def _docx_text(source: IO[bytes]) -> str:
    import docx

    document = docx.Document(source)
    lines = [paragraph.text for paragraph in document.paragraphs if paragraph.text.strip()]
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells]
            if any(cells):
                lines.append(" | ".join(cells))
    return "\n\n".join(lines)


def _decoded(source: IO[bytes]) -> str:
    return source.read().decode("utf-8", errors="replace").lstrip("\ufeff")


def _csv_text(text: str) -> str:
    sample = text[:8192]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            sample, delimiters=CSV_DELIMITERS
        )
    except csv.Error:
        dialect = csv.excel
    rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in row)]
    if not rows:
        return ""
    header, *body = rows
    if not body:
        return "; ".join(cell.strip() for cell in header)
    lines = []
    for row in body:
        pairs = [
            f"{name.strip() or f'column {index + 1}'}: {value.strip()}"
            for index, (name, value) in enumerate(zip(header, row, strict=False))
            if value.strip()
        ]
        pairs.extend(value.strip() for value in row[len(header) :] if value.strip())
        lines.append("; ".join(pairs))
    return "\n".join(lines)
