"""POST /ai/ask end to end: real uvicorn, real LangChain adapters, the fake LLM server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.ai_support import (
    OLLAMA_MODEL,
    OPENAI_MODEL,
    AiStack,
    ai_settings,
    ai_stack,
    ask,
    eventually,
)
from tests.fake_llm import FakeLLM, serve_fake_llm


@pytest.fixture
async def stack(mongo_url: str, redis_url: str, db_name: str) -> AsyncIterator[AiStack]:
    fake = FakeLLM()
    async with serve_fake_llm(fake) as llm_url:
        settings = ai_settings(mongo_url, redis_url, db_name, llm_url)
        async with ai_stack(settings, fake, llm_url) as running:
            yield running


@pytest.mark.parametrize("model", [OLLAMA_MODEL, OPENAI_MODEL])
async def test_tokens_stream_in_order_between_meta_and_done(stack: AiStack, model: str) -> None:
    owner = await stack.tenant("acme")
    got = await ask(stack.http, owner, {"message": "Say hello", "model": model})
    assert got.status == 200
    assert got.headers["content-type"].startswith("text/event-stream")
    assert got.headers["cache-control"] == "no-cache"
    assert got.headers["x-accel-buffering"] == "no"
    names = [name for name, _ in got.events]
    assert names == ["meta", "token", "token", "token", "token", "done"]
    assert got.text == "Hello, world!"
    done = got.named("done")[0]
    assert done["message_id"] == got.meta["message_id"]
    assert done["partial"] is False
    assert done["usage"]["output_tokens"] == 4
    assert done["usage"]["input_tokens"] == 2

    conversation_id = got.meta["conversation_id"]
    history = await stack.http.get(
        "/api/v1/ai/history", params={"conversation_id": conversation_id}, headers=owner.headers
    )
    assert history.status_code == 200, history.text
    messages = history.json()["items"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "Say hello"),
        ("assistant", "Hello, world!"),
    ]


async def test_disconnect_saves_partial_and_closes_upstream(stack: AiStack) -> None:
    import asyncio

    owner = await stack.tenant("acme")
    stack.fake.hold = asyncio.Event()
    stack.fake.hold_after = 2
    got = await ask(stack.http, owner, {"message": "Say hello"}, stop_after=2)
    assert got.text == "Hello,"
    await stack.fake.wait_cancelled()
    conversation_id = got.meta["conversation_id"]

    async def saved() -> list[dict[str, object]]:
        response = await stack.http.get(
            "/api/v1/ai/history", params={"conversation_id": conversation_id}, headers=owner.headers
        )
        items: list[dict[str, object]] = response.json()["items"]
        return items if len(items) == 2 else []

    messages = await eventually(saved)
    assert messages[1]["content"] == "Hello,"
    assert messages[1]["partial"] is True
    assert stack.fake.completed == 0
