"""The embeddings adapters against the fake LLM server in the real wire formats: Ollama's
`/api/embed` through `OllamaEmbeddings`, an OpenAI-compatible `/v1/embeddings` (base64
vectors, as the SDK asks) through `OpenAIEmbeddings`; provider errors become the domain's."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from api.domain.ai.documents import KnowledgeUnavailable
from api.domain.ai.errors import ModelNotFound, ProviderRejected, ProviderUnavailable
from api.infrastructure.ai.embeddings import (
    LangChainEmbedder,
    NoEmbedder,
    ollama_embedder,
    openai_embedder,
)
from tests.support.fake_embeddings import fake_vector
from tests.support.fake_llm import FakeLLM, serve_fake_llm

API_KEY = "sk-embeddings-test"
TIMEOUT = httpx.Timeout(5.0)


@pytest.fixture(autouse=True)
def _clean() -> None:
    """No database here."""


@pytest.fixture(scope="module")
async def served() -> AsyncIterator[tuple[FakeLLM, str]]:
    fake = FakeLLM()
    async with serve_fake_llm(fake) as url:
        yield fake, url


@pytest.fixture
def fake(served: tuple[FakeLLM, str]) -> FakeLLM:
    return served[0].restore(api_key=API_KEY)


def build(provider: str, url: str, model: str | None = None, **options: Any) -> LangChainEmbedder:
    if provider == "ollama":
        return ollama_embedder(
            host=url, model=model or "nomic-embed-text", timeout=TIMEOUT, batch=8
        )
    return openai_embedder(
        base_url=url + "/v1", api_key=SecretStr(options.get("key", API_KEY)),
        model=model or "text-embedding-3-small", timeout=TIMEOUT, batch=2,
    )  # fmt: skip


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


@pytest.mark.parametrize("provider", ["ollama", "openai"])
async def test_vectors_are_the_fakes(
    provider: str, fake: FakeLLM, served: tuple[FakeLLM, str]
) -> None:
    embedder = build(provider, served[1])
    try:
        texts = ["Our opening hours are nine to five", "Refunds within thirty days", "Ships fast"]
        vectors = await embedder.embed_documents(texts)
        query = await embedder.embed_query("When are your opening hours?")
    finally:
        await embedder.close()
    assert len(vectors) == 3
    for text, vector in zip(texts, vectors, strict=True):
        assert vector == pytest.approx(fake_vector(text, 256), abs=1e-6)
    scores = [cosine(query, vector) for vector in vectors]
    assert scores.index(max(scores)) == 0 and scores[0] > 0.5 and scores[1] < 0.1
    # OpenAI: batches of `batch` texts; the SDK asks for base64 floats.
    sizes = [len(batch) for batch in fake.embedded]
    assert sizes == ([3, 1] if provider == "ollama" else [2, 1, 1])
    if provider == "openai":
        assert {r.get("encoding_format") for r in fake.requests} == {"base64"}


@pytest.mark.parametrize("provider", ["ollama", "openai"])
async def test_errors_become_the_domains(
    provider: str, fake: FakeLLM, served: tuple[FakeLLM, str]
) -> None:
    url = served[1]
    missing = build(provider, url, model="no-such-model")
    with pytest.raises(ModelNotFound):
        await missing.embed_query("hello there")
    await missing.close()
    embedder = build(provider, url)
    fake.embed_status = 503
    with pytest.raises(ProviderUnavailable) as caught:
        await embedder.embed_documents(["hello there"])
    assert not isinstance(caught.value, ProviderRejected)
    fake.embed_status = 401
    with pytest.raises(ProviderRejected):
        await embedder.embed_documents(["hello there"])
    await embedder.close()
    down = build(provider, "http://127.0.0.1:9")
    with pytest.raises(ProviderUnavailable):
        await down.embed_query("hello there")
    await down.close()


async def test_no_embeddings_model() -> None:
    embedder = NoEmbedder()
    assert embedder.model is None
    with pytest.raises(KnowledgeUnavailable):
        await embedder.embed_query("hello")
