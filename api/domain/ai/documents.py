"""Assistants' knowledge: the documents an assistant answers from, and their index.

A document is one of the tenant's uploaded files (PDF, DOCX, text, Markdown, CSV) given
to one assistant. A job reads it (`DocumentSources`, streamed), parses and splits it into
passages (`DocumentReader`), embeds them (`Embedder`) and stores them with their vectors
(`ChunkIndex`), all per tenant. Each indexing of a document is a `generation`: a new file
put on the document starts the next one, and the passages of older generations are
dropped once the new ones are stored, so a search never mixes two versions of a file: it
reads the `live_generation` (the last one that finished), also while the next is being
indexed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel

from api.domain.errors import InvalidInput, PermanentFailure, ServiceUnavailable

PDF_TYPE = "application/pdf"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MARKDOWN_EXTENSIONS = (".md", ".markdown")


class DocumentStatus(StrEnum):
    INDEXING = "indexing"
    READY = "ready"
    FAILED = "failed"


class DocumentKind(StrEnum):
    PDF = "pdf"
    DOCX = "docx"
    TEXT = "text"
    MARKDOWN = "markdown"
    CSV = "csv"


def document_kind(content_type: str, filename: str) -> DocumentKind | None:
    """What a stored file is as a document (its sniffed type; the name tells Markdown
    from plain text), or None when it is none of the kinds knowledge reads."""
    if content_type == PDF_TYPE:
        return DocumentKind.PDF
    if content_type == DOCX_TYPE:
        return DocumentKind.DOCX
    if content_type == "text/csv":
        return DocumentKind.CSV
    if content_type in ("text/plain", "text/markdown"):
        if filename.lower().endswith(MARKDOWN_EXTENSIONS) or content_type == "text/markdown":
            return DocumentKind.MARKDOWN
        return DocumentKind.TEXT
    return None


class KnowledgeDocument(BaseModel):
    """A file given to an assistant, and where its indexing stands."""

    id: str | None = None
    tenant_id: str = ""
    assistant_id: str
    file_id: str
    filename: str
    content_type: str
    kind: DocumentKind
    size: int
    sha256: str
    status: DocumentStatus = DocumentStatus.INDEXING
    chunks: int = 0
    error: str | None = None
    generation: int = 1  # the latest indexing started
    live_generation: int | None = None  # the one searches read (None: not searchable)
    embedding_model: str | None = None  # of the live generation's vectors
    created_at: datetime
    updated_at: datetime
    indexed_at: datetime | None = None


@dataclass(frozen=True)
class SourceFile:
    """A stored file as knowledge sees it (the files context's record, narrowed)."""

    file_id: str
    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class IndexedChunk:
    """One passage of one generation of a document, with its vector."""

    assistant_id: str
    document_id: str
    file_id: str
    filename: str
    generation: int
    seq: int
    text: str
    vector: Sequence[float]


@dataclass(frozen=True)
class ChunkHit:
    """A passage found by a search, the file it was read from, and its cosine similarity
    to the query."""

    document_id: str
    file_id: str
    filename: str
    text: str
    score: float


class UnsupportedDocument(InvalidInput):
    """The file is not a kind of document knowledge reads: 422."""

    code = "unsupported_document_type"
    title = "Unsupported document type"


class UnreadableDocument(PermanentFailure):
    """The document cannot be read (corrupt, encrypted, too large, no text in it)."""

    code = "unreadable_document"
    title = "Unreadable document"


class KnowledgeUnavailable(ServiceUnavailable):
    """No embeddings model is configured, so documents can be neither indexed nor
    searched: 503."""

    code = "knowledge_unavailable"
    title = "Knowledge unavailable"


class KnowledgeDocumentRepository(Protocol):
    """Knowledge documents of the current tenant."""

    async def add(self, document: KnowledgeDocument) -> KnowledgeDocument:
        """Store a new document; `Conflict` when the assistant already has this file."""
        ...

    async def get(self, document_id: str) -> KnowledgeDocument | None: ...

    async def of_assistant(self, assistant_id: str) -> list[KnowledgeDocument]:
        """The assistant's documents, oldest first."""
        ...

    async def searchable(self, assistant_id: str, embedding_model: str) -> list[KnowledgeDocument]:
        """The assistant's documents with a live generation embedded by this model."""
        ...

    async def put_file(
        self, document_id: str, file: SourceFile, *, reindex: bool, at: datetime
    ) -> KnowledgeDocument | None:
        """Put `file` on the document; with `reindex`, start its next generation
        (`indexing`, no error). None when the document is gone; `Conflict` when the
        assistant already has this file on another document."""
        ...

    async def finish(
        self, document_id: str, generation: int, *, chunks: int, embedding_model: str, at: datetime
    ) -> bool:
        """Make that generation the live one (`ready`); False when the document is gone or
        a newer generation started meanwhile (then its passages must go)."""
        ...

    async def fail(self, document_id: str, generation: int, *, error: str, at: datetime) -> bool:
        """Mark that generation failed with `error`, and the document not searchable;
        False as for `finish`."""
        ...

    async def delete(self, document_id: str) -> bool: ...

    async def delete_for(self, assistant_id: str) -> list[str]:
        """Delete the assistant's documents; answers their ids."""
        ...


class DocumentSources(Protocol):
    """The tenant's stored files, read as document sources."""

    async def describe(self, file_id: str) -> SourceFile | None: ...

    def open(self, file_id: str) -> AsyncIterator[bytes]:
        """The file's bytes in chunks, streamed from its storage (`NotFound` when gone)."""
        ...


class DocumentReader(Protocol):
    """Parses a document and splits its text into passages."""

    async def passages(self, kind: DocumentKind, content: AsyncIterator[bytes]) -> list[str]:
        """The passages of the document, in reading order. Raises `UnreadableDocument`
        when it is corrupt, encrypted, larger than allowed, or has no text."""
        ...


class Embedder(Protocol):
    """The deployment's embeddings model. Raises `KnowledgeUnavailable` when none is
    configured, else what a chat model raises (`ModelNotFound`, `ProviderUnavailable`,
    `ProviderRejected`)."""

    @property
    def model(self) -> str | None:
        """The model's name (vectors of different models are not comparable); None when
        no model is configured."""
        ...

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    async def embed_query(self, text: str) -> list[float]: ...


class ChunkIndex(Protocol):
    """The current tenant's passages with their vectors."""

    async def add(self, chunks: Sequence[IndexedChunk]) -> None: ...

    async def nearest(
        self, assistant_id: str, vector: Sequence[float], *, live: Mapping[str, int], k: int
    ) -> list[ChunkHit]:
        """The `k` passages of the assistant nearest to `vector` by cosine similarity,
        nearest first, among the documents of `live` (document id -> its generation)."""
        ...

    async def drop_generation(self, document_id: str, generation: int) -> int: ...

    async def drop_older(self, document_id: str, generation: int) -> int:
        """Delete the document's passages of the generations before `generation`."""
        ...

    async def delete_document(self, document_id: str) -> int: ...

    async def delete_assistant(self, assistant_id: str) -> int: ...
