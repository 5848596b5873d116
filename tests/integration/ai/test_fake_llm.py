"""The fake LLM server (tests/fake_llm.py) is faithful: the real LangChain classes and the
real provider clients parse what it sends, and it notices a client going away."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from functools import reduce
from operator import add
from typing import Any

import devservers
import httpx
import ollama
import openai
import pytest
from langchain_core.exceptions import ModelAuthenticationError, ModelNotFoundError
from langchain_core.messages import AIMessageChunk, BaseMessageChunk
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI

from tests.support.fake_llm import FAIL_MESSAGE, FakeLLM, serve_fake_llm
from tests.support.settings import ROOT

OLLAMA_MODEL = "llama3.2:latest"
OPENAI_MODEL = "gpt-4o-mini"
API_KEY = "sk-test-fake-llm"
TOKENS = ["Hello", ",", " world", "!"]
MESSAGES = [("system", "You are terse."), ("user", "Say hello to the whole world")]
PROMPT_WORDS = 3 + 6  # whitespace-separated words over all the messages


@pytest.fixture(autouse=True)
def _clean() -> None:
    """Overrides the integration suite's database cleaning: no database is involved here."""


@pytest.fixture(scope="module")
async def served() -> AsyncIterator[tuple[FakeLLM, str]]:
    """One server for the module (starting and stopping one costs ~0.2 s)."""
    fake = FakeLLM()
    async with serve_fake_llm(fake) as url:
        yield fake, url


@pytest.fixture
def fake(served: tuple[FakeLLM, str]) -> FakeLLM:
    """The module's fake, back to its defaults (behaviour and records) for each test."""
    return served[0].restore(api_key=API_KEY)


@pytest.fixture
def url(served: tuple[FakeLLM, str], fake: FakeLLM) -> str:
    return served[1]


def chat_ollama(base_url: str, model: str = OLLAMA_MODEL) -> ChatOllama:
    return ChatOllama(model=model, base_url=base_url)


def chat_openai(base_url: str, model: str = OPENAI_MODEL, api_key: str = API_KEY) -> ChatOpenAI:
    return ChatOpenAI(
        model=model, base_url=base_url + "/v1", api_key=api_key, stream_usage=True, max_retries=0
    )


async def collect(stream: AsyncIterator[BaseMessageChunk]) -> list[BaseMessageChunk]:
    return [chunk async for chunk in stream]


async def collect_until_error(
    stream: AsyncIterator[BaseMessageChunk], expected: type[BaseException]
) -> tuple[list[str], BaseException]:
    texts: list[str] = []

    async def read_all() -> None:
        async for chunk in stream:
            texts.append(chunk.text)

    with pytest.raises(expected) as caught:
        await read_all()
    return texts, caught.value


def usage_of(chunks: list[BaseMessageChunk]) -> Any:
    """The usage the chunks carry (exactly one of them does), and check the aggregate."""
    carrying = [c for c in chunks if isinstance(c, AIMessageChunk) and c.usage_metadata]
    assert len(carrying) == 1
    whole = reduce(add, chunks)
    assert isinstance(whole, AIMessageChunk)
    assert whole.usage_metadata == carrying[0].usage_metadata
    return carrying[0].usage_metadata


# -- listing -------------------------------------------------------------------------------


async def test_ollama_lists_its_models(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/api/tags")
    assert response.status_code == 200
    (model,) = response.json()["models"]
    assert model["name"] == model["model"] == OLLAMA_MODEL
    assert {"modified_at", "size", "digest"} <= model.keys()
    assert {"format", "family", "families", "parameter_size", "quantization_level"} <= model[
        "details"
    ].keys()
    listed = await ollama.AsyncClient(host=url).list()  # the real client parses it
    assert [m.model for m in listed.models] == [OLLAMA_MODEL]


async def test_openai_lists_its_models_with_the_key(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        denied = await client.get("/v1/models")
        response = await client.get("/v1/models", headers={"Authorization": f"Bearer {API_KEY}"})
    assert denied.status_code == 401
    assert denied.json()["error"]["type"] == "invalid_request_error"
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    (model,) = body["data"]
    assert model["id"] == OPENAI_MODEL
    assert model["object"] == "model"
    assert {"created", "owned_by"} <= model.keys()
    client_ = openai.AsyncOpenAI(base_url=url + "/v1", api_key=API_KEY, max_retries=0)
    assert [m.id async for m in client_.models.list()] == [OPENAI_MODEL]


# -- Ollama through ChatOllama -------------------------------------------------------------


async def test_chat_ollama_streams_the_tokens_then_the_usage(url: str, fake: FakeLLM) -> None:
    chunks = await collect(chat_ollama(url).astream(MESSAGES))

    assert [c.text for c in chunks if c.text] == TOKENS
    usage = usage_of(chunks)
    assert usage["input_tokens"] == PROMPT_WORDS
    assert usage["output_tokens"] == len(TOKENS)
    (request,) = fake.requests
    assert request["path"] == "/api/chat"
    assert request["model"] == OLLAMA_MODEL
    assert request["stream"] is True
    assert request["messages"][1] == {"role": "user", "content": "Say hello to the whole world"}
    assert (fake.started, fake.completed, fake.cancelled) == (1, 1, 0)


async def test_chat_ollama_invoke_and_a_name_without_tag(url: str, fake: FakeLLM) -> None:
    message = await chat_ollama(url, model="llama3.2").ainvoke(MESSAGES)

    assert message.text == "Hello, world!"
    assert message.response_metadata["done_reason"] == "stop"
    assert fake.requests[0]["stream"] is True  # ChatOllama streams even for invoke


async def test_chat_ollama_unknown_model_is_a_404_response_error(url: str) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        await collect(chat_ollama(url, model="nope:7b").astream(MESSAGES))
    assert caught.value.status_code == 404
    assert caught.value.error == "model 'nope:7b' not found"


async def test_chat_ollama_mid_stream_error(url: str, fake: FakeLLM) -> None:
    fake.fail_after = 2

    texts, error = await collect_until_error(
        chat_ollama(url).astream(MESSAGES), ollama.ResponseError
    )

    assert texts == TOKENS[:2]
    assert isinstance(error, ollama.ResponseError)
    assert error.error == FAIL_MESSAGE
    assert error.status_code == -1  # a line of the 200 stream: no status of its own
    assert (fake.completed, fake.failed, fake.cancelled) == (0, 1, 0)


async def test_chat_ollama_error_status(url: str, fake: FakeLLM) -> None:
    fake.chat_status = 503
    with pytest.raises(ollama.ResponseError) as caught:
        await collect(chat_ollama(url).astream(MESSAGES))
    assert caught.value.status_code == 503


async def test_chat_ollama_connection_refused_is_a_bare_httpx_error() -> None:
    # The ollama client maps ConnectError to ConnectionError only when not streaming.
    with pytest.raises(httpx.ConnectError):
        await collect(chat_ollama(f"http://127.0.0.1:{devservers.free_port()}").astream(MESSAGES))


# -- OpenAI through ChatOpenAI -------------------------------------------------------------


async def test_chat_openai_streams_the_tokens_then_the_usage(url: str, fake: FakeLLM) -> None:
    chunks = await collect(chat_openai(url).astream(MESSAGES))

    assert [c.text for c in chunks if c.text] == TOKENS
    usage = usage_of(chunks)
    assert usage["input_tokens"] == PROMPT_WORDS
    assert usage["output_tokens"] == len(TOKENS)
    assert usage["total_tokens"] == PROMPT_WORDS + len(TOKENS)
    (request,) = fake.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["stream"] is True
    assert request["stream_options"] == {"include_usage": True}
    assert (fake.started, fake.completed, fake.cancelled) == (1, 1, 0)


async def test_chat_openai_invoke_is_not_streamed(url: str, fake: FakeLLM) -> None:
    message = await chat_openai(url).ainvoke(MESSAGES)

    assert message.text == "Hello, world!"
    assert isinstance(message.usage_metadata, dict)
    assert message.usage_metadata["output_tokens"] == len(TOKENS)
    assert fake.requests[0]["stream"] is False


async def test_chat_openai_unknown_model_is_not_found(url: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await collect(chat_openai(url, model="gpt-nope").astream(MESSAGES))
    assert isinstance(caught.value, ModelNotFoundError)  # LangChain's classification too
    assert caught.value.code == "model_not_found"
    assert "`gpt-nope` does not exist" in caught.value.message


async def test_chat_openai_wrong_key_is_an_authentication_error(url: str) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        await collect(chat_openai(url, api_key="sk-wrong").astream(MESSAGES))
    assert isinstance(caught.value, ModelAuthenticationError)
    assert caught.value.status_code == 401


async def test_chat_openai_mid_stream_error(url: str, fake: FakeLLM) -> None:
    fake.fail_after = 2

    texts, error = await collect_until_error(chat_openai(url).astream(MESSAGES), openai.APIError)

    assert [t for t in texts if t] == TOKENS[:2]
    assert type(error) is openai.APIError  # neither a status error nor a LangChain one
    assert error.message == FAIL_MESSAGE
    assert (fake.completed, fake.failed, fake.cancelled) == (0, 1, 0)


async def test_chat_openai_error_status(url: str, fake: FakeLLM) -> None:
    fake.chat_status = 429
    with pytest.raises(openai.RateLimitError):
        await collect(chat_openai(url).astream(MESSAGES))


async def test_chat_openai_connection_refused() -> None:
    with pytest.raises(openai.APIConnectionError):
        await collect(chat_openai(f"http://127.0.0.1:{devservers.free_port()}").astream(MESSAGES))


# -- the wire, raw -------------------------------------------------------------------------


async def test_ollama_ndjson_lines(url: str) -> None:
    body = {"model": OLLAMA_MODEL, "messages": [{"role": "user", "content": "hi there"}]}
    async with (
        httpx.AsyncClient(base_url=url) as client,
        client.stream("POST", "/api/chat", json=body) as response,
    ):
        assert response.headers["content-type"] == "application/x-ndjson"
        lines = [json.loads(line) async for line in response.aiter_lines() if line]

    *parts, last = lines
    assert [p["message"] for p in parts] == [{"role": "assistant", "content": t} for t in TOKENS]
    assert all(p["done"] is False and p["model"] == OLLAMA_MODEL for p in parts)
    assert last["done"] is True
    assert last["done_reason"] == "stop"
    assert last["message"] == {"role": "assistant", "content": ""}
    assert (last["prompt_eval_count"], last["eval_count"]) == (2, len(TOKENS))
    for key in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(last[key], int)


async def test_ollama_not_streamed(url: str) -> None:
    body = {"model": OLLAMA_MODEL, "messages": [], "stream": False}
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.post("/api/chat", json=body)
    assert response.json()["message"]["content"] == "Hello, world!"
    assert response.json()["prompt_eval_count"] == 1  # at least 1


async def sse_chunks(url: str, body: dict[str, Any]) -> list[Any]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with (
        httpx.AsyncClient(base_url=url) as client,
        client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = (await response.aread()).decode()
    events = raw.split("\n\n")
    assert events[-1] == ""
    assert all(e.startswith("data: ") for e in events[:-1])
    data = [e.removeprefix("data: ") for e in events[:-1]]
    assert data[-1] == "[DONE]"
    return [json.loads(d) for d in data[:-1]]


async def test_openai_sse_chunks(url: str) -> None:
    body = {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    first, *tokens, finish = await sse_chunks(url, body)

    assert first["object"] == "chat.completion.chunk"
    assert first["id"].startswith("chatcmpl-")
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert [t["choices"][0]["delta"] for t in tokens] == [{"content": t} for t in TOKENS]
    assert finish["choices"][0] == {
        "index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"
    }  # fmt: skip
    assert "usage" not in finish


async def test_openai_sse_usage_chunk_when_asked(url: str) -> None:
    body = {
        "model": OPENAI_MODEL,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "a b c"}]}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    *chunks, usage = await sse_chunks(url, body)

    assert all(c["usage"] is None for c in chunks)
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


# -- pacing, holding and cancellation ------------------------------------------------------


async def test_delays_pace_the_stream(url: str, fake: FakeLLM) -> None:
    fake.first_token_delay = 0.03
    fake.token_delay = 0.01
    began = time.perf_counter()
    await collect(chat_ollama(url).astream(MESSAGES))
    assert time.perf_counter() - began >= 0.03 + 3 * 0.01


async def test_hold_keeps_a_stream_open_until_released(url: str, fake: FakeLLM) -> None:
    fake.hold = asyncio.Event()
    fake.hold_after = 2
    stream = chat_ollama(url).astream(MESSAGES)

    texts = [(await anext(stream)).text, (await anext(stream)).text]
    assert texts == TOKENS[:2]
    await fake.wait_started()
    await asyncio.sleep(0.05)
    assert fake.completed == 0
    fake.hold.set()
    rest = await collect(stream)

    assert [c.text for c in rest if c.text] == TOKENS[2:]
    assert (fake.completed, fake.cancelled) == (1, 0)


async def test_closing_a_chat_ollama_stream_cancels_it(url: str, fake: FakeLLM) -> None:
    fake.hold = asyncio.Event()
    fake.hold_after = 1
    stream = chat_ollama(url).astream(MESSAGES)
    assert isinstance(stream, AsyncGenerator)

    assert (await anext(stream)).text == "Hello"
    await stream.aclose()

    await fake.wait_cancelled()
    assert (fake.started, fake.completed, fake.cancelled) == (1, 0, 1)


async def test_closing_a_chat_openai_stream_cancels_it(url: str, fake: FakeLLM) -> None:
    fake.hold = asyncio.Event()
    fake.hold_after = 1
    stream = chat_openai(url).astream(MESSAGES)
    assert isinstance(stream, AsyncGenerator)

    while not (await anext(stream)).text:  # the first chunk only carries the role
        pass
    await stream.aclose()

    await fake.wait_cancelled()
    assert (fake.started, fake.completed, fake.cancelled) == (1, 0, 1)


async def test_leaving_a_raw_stream_cancels_it_even_during_a_delay(url: str, fake: FakeLLM) -> None:
    fake.token_delay = 10.0  # the server sleeps after the first token
    body = {"model": OLLAMA_MODEL, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        httpx.AsyncClient(base_url=url) as client,
        client.stream("POST", "/api/chat", json=body) as response,
    ):
        async for line in response.aiter_lines():
            assert json.loads(line)["message"]["content"] == "Hello"
            break

    await fake.wait_cancelled()
    assert (fake.completed, fake.cancelled) == (0, 1)


async def test_waiting_for_what_does_not_happen_times_out(fake: FakeLLM) -> None:
    with pytest.raises(TimeoutError, match="cancelled"):
        await fake.wait_cancelled(timeout=0.05)


# -- the command line (benchmarks) ---------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def cli_port() -> Iterator[int]:
    """The command-line server, started with the module so that it boots meanwhile."""
    port = devservers.free_port()
    command = [sys.executable, "-m", "tests.support.fake_llm", "--port", str(port), "--tokens", "5"]
    with subprocess.Popen(command, cwd=ROOT) as process:  # noqa: S603 - our own module
        try:
            yield port
        finally:
            process.terminate()
            process.wait(timeout=10)


async def test_the_command_line_serves_bench_models(cli_port: int) -> None:
    url = f"http://127.0.0.1:{cli_port}"
    async with httpx.AsyncClient(base_url=url) as client:
        for _ in range(200):  # up to 10 s to start
            try:
                await client.get("/api/tags")
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.05)

    ollama_chunks = await collect(chat_ollama(url, model="bench").astream("hi"))
    openai_chunks = await collect(
        chat_openai(url, model="bench-model", api_key="any").astream("hi")
    )

    assert "".join(c.text for c in ollama_chunks) == " tok" * 5
    assert "".join(c.text for c in openai_chunks) == " tok" * 5
    assert usage_of(openai_chunks)["output_tokens"] == 5
