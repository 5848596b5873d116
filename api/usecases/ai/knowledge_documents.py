"""An assistant's knowledge documents: give it a file, list and read them, put a new
file on one (re-index), take one away, and drop everything when the assistant goes.

Every route needs `assistants:manage`; the assistant must be the tenant's (else 404), as
must the file and the document. A file is a document when it is a PDF, DOCX, text,
Markdown (`.md`/`.markdown`) or CSV file (else 422 `unsupported_document_type`); the
same file once per assistant (409). Indexing runs in a job (`parley.assistants.
index_document`, the document id and generation); a broker that is down is 503 and the
document is not kept. Without an embeddings model nothing can be indexed: 503
`knowledge_unavailable`.

"The document's file changes" means a new file put on it (`PUT .../documents/{id}`):
stored files never change in place (a new upload is a new file id). The new file is
indexed as the document's next generation, the current one still answering searches
until it is ready, unless it has the same SHA-256 as the file whose passages are live
(then nothing needs indexing and the document stays as it is, on the new file id).
"""

from __future__ import annotations

from api.domain.ai.assistants import AssistantRepository
from api.domain.ai.documents import (
    ChunkIndex,
    DocumentSources,
    DocumentStatus,
    Embedder,
    KnowledgeDocument,
    KnowledgeDocumentRepository,
    KnowledgeUnavailable,
    SourceFile,
    UnsupportedDocument,
    document_kind,
)
from api.domain.errors import FieldProblem, NotFound, ServiceUnavailable
from api.domain.identity.auth import Principal
from api.domain.jobs import JobQueue
from api.domain.permissions import Permission
from api.usecases.ai.knowledge_rules import (
    INDEX_DOCUMENT_JOB,
    assistant_of_tenant,
    document_of_assistant,
)
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_now

FILE_NOT_FOUND = "No such file."
KINDS = "PDF, DOCX, text, Markdown or CSV"


async def _document_file(
    sources: DocumentSources, embedder: Embedder, file_id: str
) -> tuple[SourceFile, str]:
    """The file to index and its kind; 503 without an embeddings model, 404 for a file
    the tenant does not have, 422 for one that is not a document."""
    if embedder.model is None:
        raise KnowledgeUnavailable(
            "knowledge index",
            detail="Documents cannot be indexed: no embeddings model is configured.",
        )
    file = await sources.describe(file_id)
    if file is None:
        raise NotFound(FILE_NOT_FOUND)
    kind = document_kind(file.content_type, file.filename)
    if kind is None:
        raise UnsupportedDocument(
            f"Files of type {file.content_type} cannot be knowledge; give a {KINDS} file.",
            [FieldProblem(("body", "file_id"), f"is not a {KINDS} file")],
        )
    return file, kind.value


class _DocumentWriter:
    """What giving a file to an assistant and putting a new one on a document share."""

    def __init__(
        self,
        assistants: AssistantRepository,
        documents: KnowledgeDocumentRepository,
        sources: DocumentSources,
        embedder: Embedder,
        jobs: JobQueue,
        auditor: Auditor,
    ) -> None:
        self._assistants = assistants
        self._documents = documents
        self._sources = sources
        self._embedder = embedder
        self._jobs = jobs
        self._auditor = auditor

    async def _enqueue(self, document: KnowledgeDocument) -> None:
        assert document.id is not None  # noqa: S101 - stored documents have ids
        await self._jobs.enqueue(
            INDEX_DOCUMENT_JOB, document_id=document.id, generation=document.generation
        )


class AddKnowledgeDocument(_DocumentWriter):
    """Give an assistant a document; its indexing is queued (202, `indexing`).
    Audited: `assistant.document_added`."""

    async def execute(
        self, principal: Principal, assistant_id: str, file_id: str
    ) -> KnowledgeDocument:
        require_permission(principal, Permission.ASSISTANTS_MANAGE)
        await assistant_of_tenant(self._assistants, assistant_id)
        file, kind = await _document_file(self._sources, self._embedder, file_id)
        now = stored_now()
        document = await self._documents.add(
            KnowledgeDocument(
                assistant_id=assistant_id, file_id=file.file_id, filename=file.filename,
                content_type=file.content_type, kind=kind, size=file.size, sha256=file.sha256,
                created_at=now, updated_at=now,
            )
        )  # fmt: skip
        assert document.id is not None  # noqa: S101 - stored documents have ids
        try:
            await self._enqueue(document)
        except ServiceUnavailable:
            await self._documents.delete(document.id)  # nothing would ever index it
            raise
        await self._auditor.record(
            "assistant.document_added", "assistant", assistant_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"document_id": document.id, "file_id": file_id}),
        )  # fmt: skip
        return document


class ListKnowledgeDocuments:
    """An assistant's documents, oldest first."""

    def __init__(
        self, assistants: AssistantRepository, documents: KnowledgeDocumentRepository
    ) -> None:
        self._assistants = assistants
        self._documents = documents

    async def execute(self, principal: Principal, assistant_id: str) -> list[KnowledgeDocument]:
        require_permission(principal, Permission.ASSISTANTS_MANAGE)
        await assistant_of_tenant(self._assistants, assistant_id)
        return await self._documents.of_assistant(assistant_id)


class GetKnowledgeDocument:
    """One of an assistant's documents (to follow its indexing)."""

    def __init__(
        self, assistants: AssistantRepository, documents: KnowledgeDocumentRepository
    ) -> None:
        self._assistants = assistants
        self._documents = documents

    async def execute(
        self, principal: Principal, assistant_id: str, document_id: str
    ) -> KnowledgeDocument:
        require_permission(principal, Permission.ASSISTANTS_MANAGE)
        await assistant_of_tenant(self._assistants, assistant_id)
        return await document_of_assistant(self._documents, assistant_id, document_id)


class ReplaceKnowledgeDocumentFile(_DocumentWriter):
    """Put a (new) file on a document: re-indexed unless its content is the live one's
    (see the module's rules). A failed document is indexed again even with the same
    file. Audited: `assistant.document_replaced`."""

    async def execute(
        self, principal: Principal, assistant_id: str, document_id: str, file_id: str
    ) -> KnowledgeDocument:
        require_permission(principal, Permission.ASSISTANTS_MANAGE)
        await assistant_of_tenant(self._assistants, assistant_id)
        current = await document_of_assistant(self._documents, assistant_id, document_id)
        file, _ = await _document_file(self._sources, self._embedder, file_id)
        unchanged = (
            current.status is DocumentStatus.READY
            and current.sha256 == file.sha256
            and current.embedding_model == self._embedder.model
        )
        if unchanged and current.file_id == file.file_id:
            return current
        changed = await self._documents.put_file(
            document_id, file, reindex=not unchanged, at=stored_now()
        )
        if changed is None:
            raise NotFound("No such document.")
        if not unchanged:
            await self._queue(changed)
        await self._auditor.record(
            "assistant.document_replaced", "assistant", assistant_id,
            actor_id=principal.user_id,
            changes=audit_extra(principal, {
                "document_id": document_id, "file_id": file_id,
                "previous_file_id": current.file_id, "reindexed": not unchanged,
            }),
        )  # fmt: skip
        return changed

    async def _queue(self, document: KnowledgeDocument) -> None:
        assert document.id is not None  # noqa: S101 - stored documents have ids
        try:
            await self._enqueue(document)
        except ServiceUnavailable:
            await self._documents.fail(
                document.id, document.generation,
                error="The indexing could not be queued; put the file again.", at=stored_now(),
            )  # fmt: skip
            raise


class DeleteKnowledgeDocument:
    """Take a document away: its passages, then the document (a job still indexing it
    finds it gone and drops what it wrote). Audited: `assistant.document_deleted`."""

    def __init__(
        self,
        assistants: AssistantRepository,
        documents: KnowledgeDocumentRepository,
        index: ChunkIndex,
        auditor: Auditor,
    ) -> None:
        self._assistants = assistants
        self._documents = documents
        self._index = index
        self._auditor = auditor

    async def execute(self, principal: Principal, assistant_id: str, document_id: str) -> None:
        require_permission(principal, Permission.ASSISTANTS_MANAGE)
        await assistant_of_tenant(self._assistants, assistant_id)
        document = await document_of_assistant(self._documents, assistant_id, document_id)
        await self._index.delete_document(document_id)
        await self._documents.delete(document_id)
        await self._index.delete_document(document_id)  # what a running job wrote meanwhile
        await self._auditor.record(
            "assistant.document_deleted", "assistant", assistant_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"document_id": document_id,
                                            "file_id": document.file_id}),
        )  # fmt: skip


class RemoveAssistantKnowledge:
    """Everything an assistant knew (its documents and passages), when it is deleted.
    Answers how many documents went."""

    def __init__(self, documents: KnowledgeDocumentRepository, index: ChunkIndex) -> None:
        self._documents = documents
        self._index = index

    async def execute(self, assistant_id: str) -> int:
        removed = await self._documents.delete_for(assistant_id)
        await self._index.delete_assistant(assistant_id)
        return len(removed)
