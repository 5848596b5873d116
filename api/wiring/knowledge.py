"""Assistants' knowledge: the embeddings model, the document reader, the index and its
documents, the files they are read from, and the `KnowledgeSearch` the replies use."""

from __future__ import annotations

import httpx
import punq

from api.config import Settings
from api.domain.ai.documents import (
    ChunkIndex,
    DocumentReader,
    DocumentSources,
    Embedder,
    KnowledgeDocumentRepository,
)
from api.domain.ai.knowledge import KnowledgeSearch
from api.domain.lifecycle import Closeable
from api.infrastructure.ai.documents import SplittingDocumentReader
from api.infrastructure.ai.no_embedder import NoEmbedder
from api.infrastructure.persistence.ai.knowledge import BeanieKnowledgeDocumentRepository
from api.infrastructure.persistence.ai.knowledge_index import MongoChunkIndex
from api.usecases.ai.knowledge_rules import KnowledgePolicy
from api.usecases.ai.search_knowledge import SearchKnowledge
from api.wiring.clients import Clients
from api.wiring.knowledge_sources import FileStoreDocumentSources


def embedder(settings: Settings) -> Embedder:
    """`KNOWLEDGE_EMBEDDING_MODEL` at the provider `AiSettings.embedding_provider` names,
    or none (then documents are refused with 503 and searches find nothing)."""
    ai = settings.ai
    provider, model = ai.embedding_provider, ai.knowledge_embedding_model
    if provider is None or model is None:
        return NoEmbedder()
    # Imported here: LangChain costs ~1 s of a process's start (see `chat_models`).
    from api.infrastructure.ai.embeddings import (
        ollama_embedder,
        openai_embedder,
    )

    timeout = httpx.Timeout(ai.ai_connect_timeout_seconds, read=ai.ai_first_token_timeout_seconds)
    if provider == "ollama":
        assert ai.ollama_host is not None  # noqa: S101 - embedding_provider checked it
        return ollama_embedder(
            host=ai.ollama_host, model=model, timeout=timeout, batch=ai.knowledge_embedding_batch
        )
    return openai_embedder(
        base_url=ai.openai_base_url, api_key=ai.openai_api_key, model=model, timeout=timeout,
        batch=ai.knowledge_embedding_batch,
    )  # fmt: skip


def knowledge_policy(settings: Settings) -> KnowledgePolicy:
    ai = settings.ai
    return KnowledgePolicy(
        embed_batch=ai.knowledge_embedding_batch,
        top_k=ai.knowledge_top_k,
        min_score=ai.knowledge_min_score,
    )


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    ai = settings.ai
    embeddings = embedder(settings)
    container.register(Embedder, instance=embeddings)
    container.register(Closeable, instance=embeddings)
    container.register(KnowledgePolicy, instance=knowledge_policy(settings))
    container.register(
        DocumentReader,
        instance=SplittingDocumentReader(
            chunk_size=ai.knowledge_chunk_size, chunk_overlap=ai.knowledge_chunk_overlap,
            max_bytes=ai.knowledge_max_document_bytes, max_chunks=ai.knowledge_max_chunks,
        ),
    )  # fmt: skip
    # One instance: it remembers whether the server has a vector search index.
    container.register(ChunkIndex, instance=MongoChunkIndex(ai.knowledge_vector_index))
    container.register(KnowledgeDocumentRepository, BeanieKnowledgeDocumentRepository)
    container.register(DocumentSources, FileStoreDocumentSources)
    container.register(KnowledgeSearch, SearchKnowledge)
