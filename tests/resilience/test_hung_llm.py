"""A hung LLM never blocks other tenants: the deployment's Ollama (a fake behind a gate
that stops answering) hangs while tenant A streams many answers from it, and tenant B's
answers from the OpenAI-compatible server (another fake) and its other requests still
come within seconds; each of A's streams ends with an `error` event after the
first-token allowance, and A's answers come again once Ollama does.

AI providers are the deployment's (`OLLAMA_HOST`, `OPENAI_BASE_URL`), not a tenant's:
tenants choose among their models. Streams wait on the event loop (no thread), so A's
hung streams hold nothing B needs; what B's answers did wait for was the model list
(every provider's, refreshed every `AI_MODELS_CACHE_SECONDS`), which waited for the hung
provider's listing to time out; a provider slower than `AI_MODELS_WAIT_SECONDS` now
counts with its last list while its listing goes on. How long B's requests took is
printed (`-s`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from tests.support.ai_stack import (
    OLLAMA_MODEL,
    OPENAI_KEY,
    OPENAI_MODEL,
    AiStack,
    ai_settings,
    ai_stack,
    ask,
)
from tests.support.fake_llm import FakeLLM, serve_fake_llm
from tests.support.gate import Gate, gated, timed

pytestmark = pytest.mark.resilience

HUNG_STREAMS = 20
FIRST_TOKEN_TIMEOUT = 4.0  # AI_FIRST_TOKEN_TIMEOUT_SECONDS (and AI_TOKEN_TIMEOUT_SECONDS)
LISTING_TIMEOUT = 10.0  # 2 x AI_CONNECT_TIMEOUT_SECONDS: a model list's own bound
B_DEADLINE = 4.0  # seconds for each of B's requests while Ollama hangs (they take ms)
MODELS_CACHE = 1.0  # AI_MODELS_CACHE_SECONDS: the model list is refreshed while B asks
B_ASKING = 4 * MODELS_CACHE  # B asks, one answer after the other, this long


@pytest.fixture
async def stack(mongo_url: str, redis_url: str) -> AsyncIterator[tuple[AiStack, Gate]]:
    hung, fine = FakeLLM(), FakeLLM()
    async with contextlib.AsyncExitStack() as stack:
        hung_url = await stack.enter_async_context(serve_fake_llm(hung))
        fine_url = await stack.enter_async_context(serve_fake_llm(fine))
        gate = await stack.enter_async_context(gated(urlsplit(hung_url).port or 0))
        settings = ai_settings(
            mongo_url, redis_url, f"llmhung_{uuid.uuid4().hex[:10]}", None,
            ollama_host=f"http://127.0.0.1:{gate.port}",
            openai_base_url=fine_url + "/v1", openai_api_key=OPENAI_KEY,
            ai_connect_timeout_seconds=LISTING_TIMEOUT / 2,
            ai_first_token_timeout_seconds=FIRST_TOKEN_TIMEOUT,
            ai_token_timeout_seconds=FIRST_TOKEN_TIMEOUT,
            ai_keepalive_seconds=1.0, ai_models_cache_seconds=MODELS_CACHE,
        )  # fmt: skip
        yield await stack.enter_async_context(ai_stack(settings, fine, fine_url)), gate


async def test_a_hung_llm_never_holds_up_another_tenants_answers(
    stack: tuple[AiStack, Gate],
) -> None:
    running, gate = stack
    a, b = await running.tenant("acme"), await running.tenant("beta")
    warm = await ask(running.http, a, {"message": "Hello", "model": OLLAMA_MODEL})
    assert warm.named("done"), warm.events  # both providers listed and answering

    gate.hang()
    started = time.monotonic()
    hung = [
        asyncio.create_task(ask(running.http, a, {"message": f"A {n}", "model": OLLAMA_MODEL}))
        for n in range(HUNG_STREAMS)
    ]
    deadline = time.monotonic() + 30
    while gate.held < HUNG_STREAMS:  # every one of A's requests is at the hung Ollama
        assert time.monotonic() < deadline, f"A's streams did not reach Ollama: {gate.held}"
        await asyncio.sleep(0.05)

    took: list[float] = []
    b_started, n = time.monotonic(), 0
    while time.monotonic() - b_started < B_ASKING:
        n += 1
        question = {"message": f"B {n}", "model": OPENAI_MODEL}
        answer = await timed(B_DEADLINE, "B's answer", ask(running.http, b, question))
        assert answer[1].named("done"), answer[1].events
        me = await timed(
            B_DEADLINE, "B's profile", running.http.get("/api/v1/auth/me", headers=b.headers)
        )
        assert me[1].status_code == 200
        took += [answer[0], me[0]]
    print(f"B's {len(took)} requests while Ollama hung: at most {max(took):.2f} s "
          f"(mean {sum(took) / len(took):.2f} s); {gate.held} of A's held")  # fmt: skip

    # Every one of A's streams ends with an error event after the first-token allowance.
    bound = FIRST_TOKEN_TIMEOUT + LISTING_TIMEOUT + 20
    done, pending = await asyncio.wait(hung, timeout=bound - (time.monotonic() - started))
    assert not pending, f"{len(pending)} of A's streams still open after {bound:.0f} s"
    for task in done:
        got = task.result()
        assert got.status == 200, got.problem
        assert [name for name, _ in got.events][-1] == "error", got.events
        assert got.named("error")[0]["code"] == "provider_unavailable"

    gate.release()  # Ollama answers again: A's answers come, nothing restarted
    deadline = time.monotonic() + 30
    again_body = {"message": "Again", "model": OLLAMA_MODEL}
    while not (again := await ask(running.http, a, again_body)).named("done"):
        assert time.monotonic() < deadline, f"A's answers did not come back: {again.events}"
        await asyncio.sleep(0.2)
    assert again.text
