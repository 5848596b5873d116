"""Request and response bodies of an assistant's knowledge documents
(`/api/v1/assistants/{id}/documents`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.domain.ai.documents import DocumentKind, DocumentStatus, KnowledgeDocument

_STRICT = ConfigDict(extra="forbid")


class KnowledgeDocumentIn(BaseModel):
    model_config = _STRICT

    file_id: str = Field(
        min_length=1, max_length=64,
        description="An uploaded file (`POST /upload`): PDF, DOCX, text, Markdown or CSV.",
    )  # fmt: skip


class KnowledgeDocumentOut(BaseModel):
    id: str
    assistant_id: str
    file_id: str
    filename: str
    content_type: str
    kind: DocumentKind
    size: int
    status: DocumentStatus = Field(
        description="`indexing` until the job is done, then `ready` or `failed` (`error`)."
    )
    chunks: int = Field(description="Passages searched for this document.")
    error: str | None = Field(description="Why the indexing failed (`failed` only).")
    created_at: datetime
    updated_at: datetime
    indexed_at: datetime | None = Field(description="When its passages last became live.")

    @classmethod
    def of(cls, document: KnowledgeDocument) -> KnowledgeDocumentOut:
        return cls(
            id=document.id or "",
            **document.model_dump(
                include={
                    "assistant_id", "file_id", "filename", "content_type", "kind", "size",
                    "status", "chunks", "error", "created_at", "updated_at", "indexed_at",
                }
            ),
        )  # fmt: skip


class KnowledgeDocumentListOut(BaseModel):
    items: list[KnowledgeDocumentOut]
