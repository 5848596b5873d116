"""Index one generation of a knowledge document (the `parley.assistants.index_document`
job): read the file (streamed from its storage), parse and split it, embed the passages
in batches and store them with their vectors, then make the generation live.

- Only the generation the job was queued for is indexed: a job for a document that is
  gone, has a newer generation, or is no longer `indexing` (a redelivered job after the
  end) does nothing.
- Idempotent: passages a crashed attempt left of this generation are dropped first.
- Transient provider failures (`ProviderUnavailable`, timeouts) are raised so the job
  is retried with backoff; on its last attempt the document fails with the reason. What
  retrying cannot fix (an unreadable file, a file deleted since, a model the provider does
  not have, credentials refused, no embeddings model) fails the document at once with a
  sentence saying why.
- When the generation is live its older passages are dropped; when the document was
  deleted or given a newer file meanwhile, this generation's passages are dropped instead.
  A failed generation leaves the document with no passages (a newer generation being
  written meanwhile is left alone).
"""

from __future__ import annotations

import logging

from api.domain.ai.documents import (
    ChunkIndex,
    DocumentReader,
    DocumentSources,
    DocumentStatus,
    Embedder,
    IndexedChunk,
    KnowledgeDocument,
    KnowledgeDocumentRepository,
    KnowledgeUnavailable,
    UnreadableDocument,
)
from api.domain.ai.errors import ModelNotFound, ProviderRejected
from api.domain.errors import NotFound, ParleyError, ServiceUnavailable
from api.usecases.ai.knowledge_rules import KnowledgePolicy
from api.usecases.kernel.clock import stored_now

log = logging.getLogger(__name__)

_PERMANENT = (
    UnreadableDocument, NotFound, ModelNotFound, ProviderRejected, KnowledgeUnavailable,
)  # fmt: skip


class IndexKnowledgeDocument:
    def __init__(
        self,
        documents: KnowledgeDocumentRepository,
        sources: DocumentSources,
        reader: DocumentReader,
        embedder: Embedder,
        index: ChunkIndex,
        policy: KnowledgePolicy,
    ) -> None:
        self._documents = documents
        self._sources = sources
        self._reader = reader
        self._embedder = embedder
        self._index = index
        self._policy = policy

    async def execute(
        self, document_id: str, generation: int, *, final_attempt: bool = True
    ) -> DocumentStatus | None:
        """The status the generation ended in; None when there was nothing to do."""
        document = await self._documents.get(document_id)
        if (
            document is None
            or document.generation != generation
            or document.status is not DocumentStatus.INDEXING
        ):
            log.info("document %s generation %s: nothing to index", document_id, generation)
            return None
        try:
            chunks = await self._index_passages(document)
        except _PERMANENT as exc:
            return await self._failed(document, _reason(exc))
        except ServiceUnavailable as exc:
            if not final_attempt:
                await self._index.drop_generation(document_id, generation)
                raise
            return await self._failed(document, _reason(exc))
        model = self._embedder.model or ""
        if await self._documents.finish(
            document_id, generation, chunks=chunks, embedding_model=model, at=stored_now()
        ):
            await self._index.drop_older(document_id, generation)
            return DocumentStatus.READY
        await self._index.drop_generation(document_id, generation)  # deleted or replaced
        return None

    async def _index_passages(self, document: KnowledgeDocument) -> int:
        assert document.id is not None  # noqa: S101 - stored documents have ids
        if self._embedder.model is None:
            raise KnowledgeUnavailable("knowledge index", detail="No embeddings model is set.")
        await self._index.drop_generation(document.id, document.generation)
        content = self._sources.open(document.file_id)
        passages = await self._reader.passages(document.kind, content)
        batch = self._policy.embed_batch
        for start in range(0, len(passages), batch):
            texts = passages[start : start + batch]
            vectors = await self._embedder.embed_documents(texts)
            if len(vectors) != len(texts):
                raise UnreadableDocument("The embeddings model answered a wrong number of vectors.")
            await self._index.add(
                [
                    IndexedChunk(
                        assistant_id=document.assistant_id,
                        document_id=document.id,
                        file_id=document.file_id,
                        filename=document.filename,
                        generation=document.generation,
                        seq=start + offset,
                        text=text,
                        vector=vector,
                    )
                    for offset, (text, vector) in enumerate(zip(texts, vectors, strict=True))
                ]
            )
        return len(passages)

    async def _failed(self, document: KnowledgeDocument, reason: str) -> DocumentStatus | None:
        assert document.id is not None  # noqa: S101 - stored documents have ids
        log.info("document %s could not be indexed: %s", document.id, reason)
        failed = await self._documents.fail(
            document.id, document.generation, error=reason, at=stored_now()
        )
        await self._index.drop_generation(document.id, document.generation)
        if not failed:
            return None
        await self._index.drop_older(document.id, document.generation)  # no longer live
        return DocumentStatus.FAILED


def _reason(exc: ParleyError) -> str:
    if isinstance(exc, NotFound):
        return "The document's file no longer exists; put another file on the document."
    if isinstance(exc, ServiceUnavailable) and not isinstance(exc, KnowledgeUnavailable):
        return f"The embeddings provider failed: {exc.detail}"
    return exc.detail
