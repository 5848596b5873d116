"""The assistants' tests: the app with the session's fake LLM as its AI providers (the
session worker calls the same fake), a fake Graph API per test, and helpers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest

from api.config import AiSettings
from tests.support.app import AppClient, ClientFactory, serve
from tests.support.fake_graph import FakeGraph, serve_fake_graph
from tests.support.fake_llm import FakeLLM
from tests.support.settings import make_settings
from tests.support.workers import LLM_KEY

ASSISTANTS = "/api/v1/assistants"
MODEL = "llama3.2:latest"
T = TypeVar("T")


@pytest.fixture
def llm(session_llm: tuple[FakeLLM, str]) -> FakeLLM:
    """The session's fake LLM back to its defaults (and nothing scripted) for each test."""
    return session_llm[0].restore()


@pytest.fixture
def make_client(
    mongo_url: str, redis_url: str, db_name: str, session_llm: tuple[FakeLLM, str]
) -> ClientFactory:
    url = session_llm[1]

    def factory(base_url: str = "http://testserver", **tenancy: Any) -> Any:
        tenancy.setdefault("tenant_cache_ttl_seconds", 0)
        settings = make_settings(mongo_url, redis_url, db_name, **tenancy)
        ai = AiSettings(
            _env_file=None, ollama_host=url, openai_base_url=url + "/v1",
            openai_api_key=LLM_KEY, ai_models_cache_seconds=0,
        )  # fmt: skip
        return serve(settings.model_copy(update={"ai": ai}), base_url)

    return factory


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[AppClient]:
    async with make_client() as http:
        yield http


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    fake = FakeGraph()
    async with serve_fake_graph(fake):
        yield fake


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], what: str, seconds: float = 60
) -> T:
    """Poll `probe` until `done(value)`; AssertionError naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} after {seconds}s: {value!r}")
        await asyncio.sleep(0.1)


def assistant_body(channel_ids: list[str], **changes: Any) -> dict[str, Any]:
    return {
        "name": "Ada", "model": MODEL, "instructions": "You help the customers of Acme.",
        "channel_ids": channel_ids, **changes,
    }  # fmt: skip


async def create_assistant(
    client: AppClient, headers: dict[str, str], channel_ids: list[str], **changes: Any
) -> dict[str, Any]:
    response = await client.post(
        ASSISTANTS, json=assistant_body(channel_ids, **changes), headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
