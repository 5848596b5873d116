"""Assistants' knowledge documents per tenant (`knowledge_documents`).

One document per file given to an assistant, unique per (tenant, assistant, file). The
indexing job's writes are conditional on the document's `generation`, so a job that
finishes after the document was deleted or given a newer file changes nothing. Filters
put `tenant_id` first (`tenant_first`) for SecantusDB's planner.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from beanie import PydanticObjectId, SortDirection
from pymongo import IndexModel

from api.domain.ai.documents import (
    DocumentKind,
    DocumentStatus,
    KnowledgeDocument,
    SourceFile,
    document_kind,
)
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    tenant_first,
    to_object_id,
)

_FIELDS = set(KnowledgeDocument.model_fields) - {"id", TENANT_FIELD}


class KnowledgeDocumentDocument(TenantOwnedDocument):
    assistant_id: str
    file_id: str
    filename: str
    content_type: str
    kind: DocumentKind
    size: int
    sha256: str
    status: DocumentStatus
    chunks: int = 0
    error: str | None = None
    generation: int = 1
    live_generation: int | None = None
    embedding_model: str | None = None
    created_at: datetime
    updated_at: datetime
    indexed_at: datetime | None = None

    class Settings:
        name = "knowledge_documents"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("assistant_id", 1), ("file_id", 1)],
                name="tenant_assistant_file",
                unique=True,
            ),
        ]

    def to_entity(self) -> KnowledgeDocument:
        return KnowledgeDocument(
            id=str(self.id), tenant_id=self.tenant_id, **self.model_dump(include=_FIELDS)
        )


class BeanieKnowledgeDocumentRepository:
    """`KnowledgeDocumentRepository` adapter, within the current tenant (fail closed)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(KnowledgeDocumentDocument)

    async def add(self, document: KnowledgeDocument) -> KnowledgeDocument:
        stored = KnowledgeDocumentDocument(**document.model_dump(include=_FIELDS))
        return (await self._scoped.insert(stored)).to_entity()

    async def get(self, document_id: str) -> KnowledgeDocument | None:
        found = await self._scoped.get(document_id)
        return found.to_entity() if found else None

    async def of_assistant(self, assistant_id: str) -> list[KnowledgeDocument]:
        found = await self._scoped.find(
            tenant_first(assistant_id=assistant_id),
            sort=[("_id", SortDirection.ASCENDING)],
        )
        return [document.to_entity() for document in found]

    async def searchable(self, assistant_id: str, embedding_model: str) -> list[KnowledgeDocument]:
        found = await self._scoped.find(
            tenant_first(assistant_id=assistant_id, embedding_model=embedding_model)
        )
        return [d.to_entity() for d in found if d.live_generation is not None]

    async def put_file(
        self, document_id: str, file: SourceFile, *, reindex: bool, at: datetime
    ) -> KnowledgeDocument | None:
        oid = to_object_id(document_id)
        if oid is None:
            return None
        fields: dict[str, object] = {
            "file_id": file.file_id,
            "filename": file.filename,
            "content_type": file.content_type,
            "size": file.size,
            "sha256": file.sha256,
            "updated_at": at,
        }
        kind = document_kind(file.content_type, file.filename)
        if kind is not None:
            fields["kind"] = kind.value
        update: dict[str, dict[str, object]] = {"$set": fields}
        if reindex:
            fields |= {"status": DocumentStatus.INDEXING.value, "error": None}
            update["$inc"] = {"generation": 1}
        changed = await self._scoped.apply_and_get({"_id": oid}, update)
        return changed.to_entity() if changed else None

    async def finish(
        self, document_id: str, generation: int, *, chunks: int, embedding_model: str, at: datetime
    ) -> bool:
        return await self._settle(
            document_id,
            generation,
            status=DocumentStatus.READY.value,
            chunks=chunks,
            live_generation=generation,
            embedding_model=embedding_model,
            error=None,
            updated_at=at,
            indexed_at=at,
        )

    async def fail(self, document_id: str, generation: int, *, error: str, at: datetime) -> bool:
        return await self._settle(
            document_id,
            generation,
            status=DocumentStatus.FAILED.value,
            chunks=0,
            live_generation=None,
            error=error,
            updated_at=at,
        )

    async def _settle(self, document_id: str, generation: int, **changes: object) -> bool:
        oid = to_object_id(document_id)
        if oid is None:
            return False
        return await self._scoped.apply_where(
            {"_id": oid, "generation": generation}, {"$set": changes}
        )

    async def delete(self, document_id: str) -> bool:
        return await self._scoped.delete(document_id)

    async def delete_for(self, assistant_id: str) -> list[str]:
        found = await self._scoped.find(tenant_first(assistant_id=assistant_id))
        ids = [str(document.id) for document in found]
        if ids:
            await self._scoped.delete_many(
                tenant_first(_id={"$in": [PydanticObjectId(i) for i in ids]})
            )
        return ids
