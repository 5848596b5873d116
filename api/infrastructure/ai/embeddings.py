"""The `Embedder` port through LangChain's embeddings: `OllamaEmbeddings` (`POST
/api/embed`) or `OpenAIEmbeddings` against an OpenAI-compatible base URL (`POST
/embeddings`), chosen by the settings like the chat models.

`OpenAIEmbeddings` is built with `check_embedding_ctx_length=False`: it sends the texts
themselves (with the check on it would tokenize them with tiktoken, which downloads its
tables at run time and sends token ids that servers other than OpenAI do not read). The
splitter keeps passages far below any embedding model's context. Retries are the job's
(`max_retries=0` here); errors become the chat models' domain errors (`ModelNotFound`,
`ProviderRejected`, `ProviderUnavailable`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import httpx
from langchain_core.embeddings import Embeddings
from langchain_ollama import OllamaEmbeddings
from langchain_openai import OpenAIEmbeddings
from pydantic import SecretStr

from api.infrastructure.ai.no_embedder import NOT_CONFIGURED, NoEmbedder
from api.infrastructure.ai.ollama_provider import ollama_error
from api.infrastructure.ai.openai_provider import openai_error

__all__ = [
    "NOT_CONFIGURED",
    "LangChainEmbedder",
    "NoEmbedder",
    "ollama_embedder",
    "openai_embedder",
]

T = TypeVar("T")
Translate = Callable[[Exception, str], Exception | None]


class LangChainEmbedder:
    """`Embedder` adapter over one LangChain `Embeddings` model."""

    def __init__(
        self,
        embeddings: Embeddings,
        model: str,
        translate: Translate,
        *,
        closing: httpx.AsyncClient | None = None,
    ) -> None:
        self._embeddings = embeddings
        self._model = model
        self._translate = translate
        self._closing = closing

    @property
    def model(self) -> str | None:
        return self._model

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return await self._call(lambda: self._embeddings.aembed_documents(list(texts)))

    async def embed_query(self, text: str) -> list[float]:
        return await self._call(lambda: self._embeddings.aembed_query(text))

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except Exception as exc:
            translated = self._translate(exc, self._model)
            if translated is None:
                raise
            raise translated from exc

    async def close(self) -> None:
        if self._closing is not None:
            await self._closing.aclose()
        # OllamaEmbeddings keeps an `ollama.AsyncClient` around an httpx client of its own.
        inner = getattr(getattr(self._embeddings, "_async_client", None), "_client", None)
        if isinstance(inner, httpx.AsyncClient):
            await inner.aclose()


def ollama_embedder(
    *, host: str, model: str, timeout: httpx.Timeout, batch: int
) -> LangChainEmbedder:
    """Ollama's `/api/embed` (one request per `batch` texts: the use case batches)."""
    del batch  # OllamaEmbeddings sends what it is given in one request
    embeddings = OllamaEmbeddings(
        model=model, base_url=host.rstrip("/"), client_kwargs={"timeout": timeout}
    )
    return LangChainEmbedder(embeddings, model, ollama_error)


def openai_embedder(
    *,
    base_url: str | None,
    api_key: SecretStr | None,
    model: str,
    timeout: httpx.Timeout,
    batch: int,
) -> LangChainEmbedder:
    """An OpenAI-compatible `/embeddings` (OpenAI, vLLM, LM Studio, llama.cpp)."""
    http = httpx.AsyncClient(timeout=timeout)
    embeddings = OpenAIEmbeddings(
        model=model,
        openai_api_base=(base_url or "https://api.openai.com/v1").rstrip("/"),
        # A key is required by the SDK; local servers ignore it.
        openai_api_key=api_key or SecretStr("not-needed"),
        check_embedding_ctx_length=False,
        chunk_size=batch,
        max_retries=0,
        request_timeout=timeout,
        http_async_client=http,
    )
    return LangChainEmbedder(embeddings, model, openai_error, closing=http)
