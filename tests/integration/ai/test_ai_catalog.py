"""The providers behind `ChatModels` (LangChain adapters over the fake LLM server):
listing and its cache, streaming, error translation, and closing a stream early."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import devservers
import httpx
import pytest
from langchain_core.outputs import ChatGenerationChunk
from pydantic import SecretStr

from api.config import Settings
from api.domain.ai.errors import ModelNotFound, ProviderRejected, ProviderUnavailable
from api.domain.ai.values import (
    ChatDelta,
    FinishReason,
    ModelInfo,
    PromptMessage,
    Provider,
    Speaker,
    TokenUsage,
)
from api.infrastructure.ai.base import LangChainProvider, model_chunks, to_delta, to_langchain
from api.infrastructure.ai.catalog import ProviderChatModels
from api.infrastructure.ai.ollama_provider import OllamaProvider
from api.infrastructure.ai.openai_provider import OpenAIProvider
from api.wiring.ai import chat_models
from tests.support.fake_llm import FakeLLM, serve_fake_llm
from tests.support.settings import make_settings

OLLAMA_MODEL = "llama3.2:latest"
OPENAI_MODEL = "gpt-4o-mini"
API_KEY = "sk-test-catalog"
TOKENS = ["Hello", ",", " world", "!"]
PROMPT = [
    PromptMessage(Speaker.SYSTEM, "You are terse."),
    PromptMessage(Speaker.USER, "Say hello to the whole world"),
]
PROMPT_WORDS = 3 + 6  # what the fake reports as the prompt's size
WAIT = 5.0


@pytest.fixture(autouse=True)
def _clean() -> None:
    """Overrides the integration suite's database cleaning: no database is involved here."""


@pytest.fixture(scope="module")
async def served() -> AsyncIterator[tuple[FakeLLM, str]]:
    fake = FakeLLM()
    async with serve_fake_llm(fake) as url:
        yield fake, url


@pytest.fixture
def fake(served: tuple[FakeLLM, str]) -> FakeLLM:
    """The module's fake back to its defaults for each test, requiring the API key."""
    return served[0].restore(api_key=API_KEY)


@pytest.fixture
def url(served: tuple[FakeLLM, str], fake: FakeLLM) -> str:
    return served[1]


def closed_url() -> str:
    return f"http://127.0.0.1:{devservers.free_port()}"


def settings_for(
    *, ollama: str | None, openai: str | None, key: str = API_KEY, **ai: Any
) -> Settings:
    """Settings as the deployment would have them (the servers named are never dialled)."""
    base = make_settings("mongodb://127.0.0.1:1", "redis://127.0.0.1:1/0", "unused")
    changes: dict[str, Any] = {
        "ollama_host": ollama,
        "openai_base_url": None if openai is None else openai + "/v1",
        "openai_api_key": None if openai is None else SecretStr(key),
        "ai_connect_timeout_seconds": 1.0,
        **ai,
    }
    return base.model_copy(update={"ai": base.ai.model_copy(update=changes)})


@pytest.fixture
async def models(url: str) -> AsyncIterator[ProviderChatModels]:
    """Both providers on the fake, as `api.wiring.ai.chat_models` builds them."""
    built = chat_models(settings_for(ollama=url, openai=url))
    try:
        yield built
    finally:
        await built.close()


def listed(models: list[ModelInfo]) -> set[tuple[str, Provider]]:
    return {(m.id, m.provider) for m in models}


async def collect(stream: AsyncGenerator[ChatDelta, None]) -> list[ChatDelta]:
    async with asyncio.timeout(WAIT):
        return [delta async for delta in stream]


async def collect_until_error(
    stream: AsyncGenerator[ChatDelta, None], expected: type[BaseException]
) -> tuple[list[str], BaseException]:
    texts: list[str] = []

    async def read_all() -> None:
        async with asyncio.timeout(WAIT):
            async for delta in stream:
                texts.append(delta.content)

    with pytest.raises(expected) as caught:
        await read_all()
    return [t for t in texts if t], caught.value


OLLAMA = ModelInfo(id=OLLAMA_MODEL, provider=Provider.OLLAMA)
OPENAI = ModelInfo(id=OPENAI_MODEL, provider=Provider.OPENAI)


# -- listing -------------------------------------------------------------------------------


async def test_both_providers_models_are_listed(models: ProviderChatModels) -> None:
    found = await models.list_models()
    assert listed(found) == {(OLLAMA_MODEL, Provider.OLLAMA), (OPENAI_MODEL, Provider.OPENAI)}
    by_provider = {m.provider: m for m in found}
    assert by_provider[Provider.OLLAMA].details["size"] == 2019393189
    assert by_provider[Provider.OLLAMA].details["details"]["family"] == "llama"
    assert by_provider[Provider.OPENAI].details["owned_by"] == "system"


async def test_only_the_configured_models_are_offered(url: str, fake: FakeLLM) -> None:
    fake.ollama_models = {OLLAMA_MODEL: TOKENS, "mistral:7b": TOKENS, "qwen:0.5b": TOKENS}
    fake.openai_models = {OPENAI_MODEL: TOKENS, "gpt-4o": TOKENS}
    models = chat_models(
        settings_for(
            ollama=url, openai=url,
            ollama_models=["mistral:7b", "qwen:0.5b", "absent:1b"], openai_models=["gpt-4o"],
        )
    )  # fmt: skip
    try:
        assert listed(await models.list_models()) == {
            ("mistral:7b", Provider.OLLAMA),
            ("qwen:0.5b", Provider.OLLAMA),
            ("gpt-4o", Provider.OPENAI),
        }
    finally:
        await models.close()


async def test_a_name_offered_by_both_is_served_by_ollama(url: str, fake: FakeLLM) -> None:
    fake.openai_models = {OLLAMA_MODEL: TOKENS, OPENAI_MODEL: TOKENS}
    models = chat_models(settings_for(ollama=url, openai=url))
    try:
        found = await models.list_models()
        assert [m.provider for m in found if m.id == OLLAMA_MODEL] == [Provider.OLLAMA]
        assert len(found) == 2
    finally:
        await models.close()


async def test_the_list_is_cached_until_forgotten(url: str, fake: FakeLLM) -> None:
    models = chat_models(settings_for(ollama=url, openai=url, ai_models_cache_seconds=3600))
    try:
        before = listed(await models.list_models())
        fake.ollama_models["new-model:latest"] = TOKENS
        fake.openai_models["gpt-new"] = TOKENS
        assert listed(await models.list_models()) == before
        models.forget()
        after = listed(await models.list_models())
        assert after == before | {
            ("new-model:latest", Provider.OLLAMA),
            ("gpt-new", Provider.OPENAI),
        }
    finally:
        await models.close()


async def test_without_a_cache_every_listing_asks(url: str, fake: FakeLLM) -> None:
    models = chat_models(settings_for(ollama=url, openai=None, ai_models_cache_seconds=0))
    try:
        assert listed(await models.list_models()) == {(OLLAMA_MODEL, Provider.OLLAMA)}
        del fake.ollama_models[OLLAMA_MODEL]
        fake.ollama_models["other:latest"] = TOKENS
        assert listed(await models.list_models()) == {("other:latest", Provider.OLLAMA)}
    finally:
        await models.close()


async def test_concurrent_listings_share_one_refresh(url: str, fake: FakeLLM) -> None:
    models = chat_models(settings_for(ollama=url, openai=url, ai_models_cache_seconds=3600))
    try:
        results = await asyncio.gather(*(models.list_models() for _ in range(10)))
        assert all(r is results[0] for r in results)  # the very same list
    finally:
        await models.close()


async def test_a_provider_that_is_down_is_left_out(url: str) -> None:
    models = chat_models(settings_for(ollama=url, openai=closed_url()))
    try:
        assert listed(await models.list_models()) == {(OLLAMA_MODEL, Provider.OLLAMA)}
    finally:
        await models.close()
    models = chat_models(settings_for(ollama=closed_url(), openai=url))
    try:
        assert listed(await models.list_models()) == {(OPENAI_MODEL, Provider.OPENAI)}
    finally:
        await models.close()


async def test_a_provider_refusing_the_key_is_left_out(url: str) -> None:
    models = chat_models(settings_for(ollama=url, openai=url, key="sk-wrong"))
    try:
        assert listed(await models.list_models()) == {(OLLAMA_MODEL, Provider.OLLAMA)}
    finally:
        await models.close()


async def test_all_providers_down_without_a_previous_list_is_unavailable() -> None:
    models = chat_models(settings_for(ollama=closed_url(), openai=closed_url()))
    try:
        with pytest.raises(ProviderUnavailable):
            await models.list_models()
    finally:
        await models.close()


async def test_no_provider_configured_is_unavailable() -> None:
    models = chat_models(settings_for(ollama=None, openai=None))
    try:
        with pytest.raises(ProviderUnavailable):
            await models.list_models()
    finally:
        await models.close()


async def test_the_last_good_list_stands_in_while_all_are_down() -> None:
    async with serve_fake_llm(FakeLLM()) as going:
        models = chat_models(settings_for(ollama=going, openai=going, ai_models_cache_seconds=3600))
        good = await models.list_models()
        assert len(good) == 2
    try:
        models.forget()  # the server is gone: the providers are asked again, and fail
        assert listed(await models.list_models()) == listed(good)
    finally:
        await models.close()


# -- streaming -----------------------------------------------------------------------------


@pytest.mark.parametrize("model", [OLLAMA, OPENAI], ids=["ollama", "openai"])
async def test_a_stream_gives_the_tokens_in_order_then_the_usage(
    models: ProviderChatModels, fake: FakeLLM, model: ModelInfo
) -> None:
    deltas = await collect(models.stream(model, PROMPT))
    assert [d.content for d in deltas if d.content] == TOKENS
    carrying = [i for i, d in enumerate(deltas) if d.usage is not None]
    assert len(carrying) == 1
    last_content = max(i for i, d in enumerate(deltas) if d.content)
    assert carrying[0] > last_content  # after every token
    assert deltas[carrying[0]].usage == TokenUsage(
        input_tokens=PROMPT_WORDS, output_tokens=len(TOKENS)
    )
    assert FinishReason.STOP in [d.finish_reason for d in deltas]
    (request,) = fake.requests
    assert request["model"] == model.id
    assert request["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello to the whole world"},
    ]
    assert (fake.completed, fake.cancelled) == (1, 0)


@pytest.mark.parametrize("provider", [Provider.OLLAMA, Provider.OPENAI])
async def test_an_unknown_model_is_model_not_found(
    models: ProviderChatModels, provider: Provider
) -> None:
    with pytest.raises(ModelNotFound):
        await collect(models.stream(ModelInfo(id="nope:7b", provider=provider), PROMPT))


async def test_a_refused_key_is_provider_rejected(url: str, fake: FakeLLM) -> None:
    models = chat_models(settings_for(ollama=None, openai=url, key="sk-wrong"))
    try:
        with pytest.raises(ProviderRejected) as caught:
            await collect(models.stream(OPENAI, PROMPT))
        assert "sk-wrong" not in str(caught.value.detail)
        assert fake.started == 0
    finally:
        await models.close()


@pytest.mark.parametrize(
    ("status", "error"),
    [(429, ProviderRejected), (400, ProviderRejected), (500, ProviderUnavailable),
     (503, ProviderUnavailable)],
)  # fmt: skip
@pytest.mark.parametrize("model", [OLLAMA, OPENAI], ids=["ollama", "openai"])
async def test_error_statuses_translate(
    models: ProviderChatModels,
    fake: FakeLLM,
    model: ModelInfo,
    status: int,
    error: type[ProviderUnavailable],
) -> None:
    fake.chat_status = status
    with pytest.raises(ProviderUnavailable) as caught:
        await collect(models.stream(model, PROMPT))
    assert type(caught.value) is error


@pytest.mark.parametrize("model", [OLLAMA, OPENAI], ids=["ollama", "openai"])
async def test_a_refused_connection_is_provider_unavailable(model: ModelInfo) -> None:
    down = closed_url()
    models = chat_models(settings_for(ollama=down, openai=down))
    try:
        with pytest.raises(ProviderUnavailable) as caught:
            await collect(models.stream(model, PROMPT))
        assert not isinstance(caught.value, ProviderRejected)
    finally:
        await models.close()


@pytest.mark.parametrize("model", [OLLAMA, OPENAI], ids=["ollama", "openai"])
async def test_a_mid_stream_failure_is_provider_unavailable_after_the_first_deltas(
    models: ProviderChatModels, fake: FakeLLM, model: ModelInfo
) -> None:
    fake.fail_after = 2
    texts, error = await collect_until_error(models.stream(model, PROMPT), ProviderUnavailable)
    assert texts == TOKENS[:2]
    assert not isinstance(error, ProviderRejected)
    assert fake.failed == 1


@pytest.mark.parametrize("provider", ["ollama", "openai"])
async def test_the_models_own_chunks_give_the_deltas_astream_gives(
    url: str, fake: FakeLLM, provider: str
) -> None:
    """Parley reads the model integration's chunk stream (`model_chunks`), not `astream()`:
    the same request, the same deltas (tokens, usage, finish reason), with the
    generation's metadata counted as `astream()` merges it into its messages."""
    timeout = httpx.Timeout(WAIT)
    async with httpx.AsyncClient() as http:
        chosen: LangChainProvider = (
            OllamaProvider(http, host=url, only=[], timeout=timeout)
            if provider == "ollama"
            else OpenAIProvider(
                http, api_key=SecretStr(API_KEY), base_url=url + "/v1", only=[], timeout=timeout
            )
        )
        model = OLLAMA_MODEL if provider == "ollama" else OPENAI_MODEL
        chat = chosen.chat_model(model)
        prompt = to_langchain(PROMPT)
        options = chosen._limits(50)
        try:
            async with asyncio.timeout(WAIT):
                through_astream = [
                    to_delta(ChatGenerationChunk(message=message))
                    async for message in chat.astream(prompt, **options)
                ]
                own = [to_delta(chunk) async for chunk in model_chunks(chat, prompt, options)]
        finally:
            await chosen.close()
    # `astream()` ends with an empty message of its own (marking the last chunk).
    assert through_astream[-1] == ChatDelta()
    assert own == through_astream[:-1]
    assert [d.content for d in own if d.content] == TOKENS
    assert any(d.usage for d in own)
    assert FinishReason.STOP in [d.finish_reason for d in own]
    first, second = fake.requests
    assert first == second  # the same request went out


@pytest.mark.parametrize("provider", ["ollama", "openai"])
async def test_more_than_a_hundred_streams_to_one_model_run_at_once(
    models: ProviderChatModels, fake: FakeLLM, provider: str
) -> None:
    """No pool limit on a model's streams: httpx's default of 100 connections made the
    101st concurrent stream wait for one, then fail (PoolTimeout)."""
    model = OLLAMA if provider == "ollama" else OPENAI
    fake.hold, fake.hold_after, fake.record_requests = asyncio.Event(), 1, False
    count = 105
    first_tokens = asyncio.Queue[None]()

    async def read() -> list[str]:
        texts: list[str] = []
        async for delta in models.stream(model, PROMPT):
            if delta.content:
                texts.append(delta.content)
                if len(texts) == 1:
                    first_tokens.put_nowait(None)
        return texts

    readers = [asyncio.create_task(read()) for _ in range(count)]
    try:
        async with asyncio.timeout(30):
            for _ in range(count):  # every stream has its first token while all are open
                await first_tokens.get()
        assert not any(reader.done() for reader in readers)
        fake.hold.set()
        async with asyncio.timeout(30):
            results = await asyncio.gather(*readers)
    finally:
        fake.hold.set()
        for reader in readers:
            reader.cancel()
    assert results == [TOKENS] * count


async def test_a_provider_not_configured_cannot_stream(url: str) -> None:
    models = chat_models(settings_for(ollama=url, openai=None))
    try:
        with pytest.raises(ProviderUnavailable):
            await collect(models.stream(OPENAI, PROMPT))
    finally:
        await models.close()


@pytest.mark.parametrize("model", [OLLAMA, OPENAI], ids=["ollama", "openai"])
async def test_closing_a_stream_early_closes_the_upstream_request(
    models: ProviderChatModels, fake: FakeLLM, model: ModelInfo
) -> None:
    fake.hold = asyncio.Event()
    fake.hold_after = 1  # the first token goes, then the server waits
    stream = models.stream(model, PROMPT)
    try:
        async with asyncio.timeout(WAIT):
            async for delta in stream:
                if delta.content:
                    assert delta.content == TOKENS[0]
                    break
        await stream.aclose()
        await fake.wait_cancelled(timeout=WAIT)
        assert (fake.started, fake.cancelled, fake.completed) == (1, 1, 0)
    finally:
        fake.hold.set()
