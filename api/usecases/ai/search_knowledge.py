"""The `KnowledgeSearch` port: the passages of an assistant's documents nearest to a
question, for its replies.

Only documents with a live generation embedded by the deployment's current embeddings
model are searched (vectors of another model are not comparable: put the file again to
re-index it after changing `KNOWLEDGE_EMBEDDING_MODEL`). An assistant with none, an
empty question or no embeddings model finds nothing, and then no provider is called.
"""

from __future__ import annotations

from api.domain.ai.documents import ChunkIndex, Embedder, KnowledgeDocumentRepository
from api.domain.ai.knowledge import KnowledgeChunk


class SearchKnowledge:
    def __init__(
        self, documents: KnowledgeDocumentRepository, embedder: Embedder, index: ChunkIndex
    ) -> None:
        self._documents = documents
        self._embedder = embedder
        self._index = index

    async def search(self, assistant_id: str, query: str, *, k: int) -> list[KnowledgeChunk]:
        model = self._embedder.model
        if model is None or k < 1 or not query.strip():
            return []
        documents = await self._documents.searchable(assistant_id, model)
        live = {
            document.id: document.live_generation
            for document in documents
            if document.id is not None and document.live_generation is not None
        }
        if not live:
            return []
        vector = await self._embedder.embed_query(query)
        hits = await self._index.nearest(assistant_id, vector, live=live, k=k)
        return [
            KnowledgeChunk(
                document_id=hit.document_id,
                file_id=hit.file_id,
                filename=hit.filename,
                text=hit.text,
                score=hit.score,
            )
            for hit in hits
        ]
