"""The `Embedder` of a deployment without an embeddings model: apart from the LangChain
adapters, so that a process without one never imports LangChain (about a second)."""

from __future__ import annotations

from collections.abc import Sequence

from api.domain.ai.documents import KnowledgeUnavailable

NOT_CONFIGURED = (
    "No embeddings model is configured (KNOWLEDGE_EMBEDDING_MODEL, with OLLAMA_HOST or an "
    "OpenAI-compatible server)."
)


class NoEmbedder:
    """`Embedder` adapter of a deployment without an embeddings model."""

    @property
    def model(self) -> str | None:
        return None

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        raise KnowledgeUnavailable("knowledge index", detail=NOT_CONFIGURED)

    async def embed_query(self, text: str) -> list[float]:
        raise KnowledgeUnavailable("knowledge index", detail=NOT_CONFIGURED)

    async def close(self) -> None:
        return None
