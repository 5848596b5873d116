"""POST /ai/ask end to end: real uvicorn, real LangChain adapters, the fake LLM server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from api.domain.ai.values import estimate_tokens
from tests.support.ai_stack import (
    AI,
    OLLAMA_MODEL,
    OPENAI_MODEL,
    AiStack,
    StackMaker,
    ai_stack,
    ask,
    ask_stream,
    conversation,
    eventually,
    fresh,
    next_event,
    sent_messages,
)
from tests.support.app import assert_problem
from tests.support.fake_llm import FakeLLM, count_words, serve_fake_llm


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
    history = await stack.http.get(f"/api/v1/ai/history/{conversation_id}", headers=owner.headers)
    assert history.status_code == 200, history.text
    messages = history.json()["items"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "Say hello"),
        ("assistant", "Hello, world!"),
    ]


async def test_disconnect_saves_partial_and_closes_upstream(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    stack.fake.hold = asyncio.Event()
    stack.fake.hold_after = 2
    got = await ask(stack.http, owner, {"message": "Say hello"}, stop_after=2)
    assert got.text == "Hello,"
    await stack.fake.wait_cancelled()
    conversation_id = got.meta["conversation_id"]

    async def saved() -> list[dict[str, object]]:
        response = await stack.http.get(
            f"/api/v1/ai/history/{conversation_id}", headers=owner.headers
        )
        items: list[dict[str, object]] = response.json()["items"]
        return items if len(items) == 2 else []

    messages = await eventually(saved)
    assert messages[1]["content"] == "Hello,"
    assert messages[1]["partial"] is True
    assert stack.fake.completed == 0


# -- Added: context, keep-alives, timeouts, stops, failures, usage -------------------------


SYSTEM_PROMPT = "Be terse."


@pytest.fixture(scope="module")
async def shared_context_stack(
    mongo_url: str, redis_url: str, db_name: str
) -> AsyncIterator[AiStack]:
    settings: dict[str, Any] = {"ai_context_max_turns": 1, "ai_context_max_tokens": 100}
    make = StackMaker(mongo_url, redis_url, db_name)
    async with make(ai_system_prompt=SYSTEM_PROMPT, **settings) as running:
        yield running


@pytest.fixture
def context_stack(shared_context_stack: AiStack) -> AiStack:
    """Context of one previous turn and at most 100 tokens, after a system prompt."""
    return fresh(shared_context_stack)


@pytest.fixture(scope="module")
async def shared_impatient_stack(
    mongo_url: str, redis_url: str, db_name: str
) -> AsyncIterator[AiStack]:
    settings: dict[str, Any] = {
        "ai_keepalive_seconds": 0.25,
        "ai_start_grace_seconds": 0.1,
        "ai_first_token_timeout_seconds": 3.0,
        "ai_token_timeout_seconds": 1.5,
    }
    async with StackMaker(mongo_url, redis_url, db_name)(**settings) as running:
        yield running


@pytest.fixture
def impatient_stack(shared_impatient_stack: AiStack) -> AiStack:
    """Keep-alives every 0.25 s, 0.1 s of start grace, 3 s allowed for the first token and
    1.5 s between two: margins of a second or more, so a busy CI machine stays on time."""
    return fresh(shared_impatient_stack)


def _provider_path(model: str) -> str:
    return "/api/chat" if model == OLLAMA_MODEL else "/v1/chat/completions"


def _set_reply(fake: FakeLLM, model: str, tokens: list[str]) -> None:
    models = fake.ollama_models if model == OLLAMA_MODEL else fake.openai_models
    models[model] = tokens


def _sent_tokens(messages: list[tuple[str, str]]) -> int:
    return sum(estimate_tokens(content) for _, content in messages)


@pytest.mark.parametrize("model", [OLLAMA_MODEL, OPENAI_MODEL])
async def test_continuing_sends_previous_turns_and_usage_is_the_providers(
    stack: AiStack, model: str
) -> None:
    owner = await stack.tenant("acme")
    first = await ask(stack.http, owner, {"message": "My name is Ada", "model": model})
    assert first.status == 200, first.problem
    conversation_id = first.meta["conversation_id"]
    assert first.named("done")[0]["usage"] == {
        "input_tokens": 4,  # "My name is Ada"
        "output_tokens": 4,
        "estimated": False,
    }
    assert sent_messages(stack.fake.requests[-1]) == [("user", "My name is Ada")]

    _set_reply(stack.fake, model, ["Your", " name", " is", " Ada", "."])
    second = await ask(
        stack.http, owner, {"message": "What is my name?", "conversation_id": conversation_id}
    )
    assert second.status == 200, second.problem
    assert second.meta["conversation_id"] == conversation_id
    assert second.meta["model"] == model  # the conversation's model when none is named
    assert second.text == "Your name is Ada."
    request = stack.fake.requests[-1]
    assert request["path"] == _provider_path(model)
    assert request["model"] == model
    assert sent_messages(request) == [
        ("user", "My name is Ada"),
        ("assistant", "Hello, world!"),
        ("user", "What is my name?"),
    ]
    done = second.named("done")[0]
    assert done["usage"] == {
        "input_tokens": count_words(request["messages"]),
        "output_tokens": 5,
        "estimated": False,
    }
    assert done["usage"]["input_tokens"] == 4 + 2 + 4
    assert (done["partial"], done["finish_reason"]) == (False, "stop")
    saved = await conversation(stack.http, owner, conversation_id)
    assert saved["message_count"] == 4
    assert saved["messages"]["items"][-1]["usage"] == done["usage"]


async def test_context_keeps_only_the_last_turns(context_stack: AiStack) -> None:
    """With `AI_CONTEXT_MAX_TURNS=1` the model gets the system prompt, the previous turn
    (question and answer, never an answer without its question) and the new question."""
    stack = context_stack
    owner = await stack.tenant("acme")
    _set_reply(stack.fake, OLLAMA_MODEL, ["Answer", " one"])
    first = await ask(stack.http, owner, {"message": "Question one"})
    conversation_id = first.meta["conversation_id"]
    assert sent_messages(stack.fake.requests[-1]) == [
        ("system", "Be terse."),
        ("user", "Question one"),
    ]
    _set_reply(stack.fake, OLLAMA_MODEL, ["Answer", " two"])
    follow = {"conversation_id": conversation_id}
    second = await ask(stack.http, owner, {"message": "Question two", **follow})
    assert second.text == "Answer two"
    third = await ask(stack.http, owner, {"message": "Question three", **follow})
    assert third.status == 200, third.problem
    sent = sent_messages(stack.fake.requests[-1])
    assert ("user", "Question one") not in sent
    assert ("assistant", "Answer one") not in sent
    assert sent == [
        ("system", "Be terse."),
        ("user", "Question two"),
        ("assistant", "Answer two"),
        ("user", "Question three"),
    ]


async def test_context_keeps_what_fits_the_token_budget(context_stack: AiStack) -> None:
    stack = context_stack
    owner = await stack.tenant("acme")
    long_question = " ".join(["alpha"] * 50)  # 299 characters: about 75 tokens
    first = await ask(stack.http, owner, {"message": long_question})
    follow = {"conversation_id": first.meta["conversation_id"]}
    question = " ".join(["beta"] * 20)  # 99 characters: about 25 tokens
    await ask(stack.http, owner, {"message": question, **follow})
    sent = sent_messages(stack.fake.requests[-1])
    assert sent[-1] == ("user", question)
    assert ("user", long_question) not in sent  # the oldest did not fit
    assert _sent_tokens(sent) <= 100
    # The question always goes, even alone over the budget.
    huge = " ".join(["gamma"] * 120)  # about 180 tokens
    got = await ask(stack.http, owner, {"message": huge, **follow})
    assert got.status == 200 and got.text == "Hello, world!"
    assert sent_messages(stack.fake.requests[-1]) == [("system", SYSTEM_PROMPT), ("user", huge)]


@pytest.mark.parametrize("model", [OLLAMA_MODEL, OPENAI_MODEL])
async def test_keepalive_comments_flow_while_the_model_is_slow(
    impatient_stack: AiStack, model: str
) -> None:
    """The model takes 2 s to its first token: keep-alives meanwhile, then the whole reply
    (the first token may take longer than the 1.5 s allowed between two tokens)."""
    stack = impatient_stack
    stack.fake.first_token_delay = 2.0
    owner = await stack.tenant("acme")
    loop = asyncio.get_running_loop()
    lines: list[tuple[float, str]] = []
    body = {"message": "Say hello", "model": model}
    async with stack.http.stream("POST", f"{AI}/ask", json=body, headers=owner.headers) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            lines.append((loop.time(), line))
    texts = [line for _, line in lines]
    assert "event: error" not in texts, texts
    first_token = texts.index("event: token")
    keepalives = [i for i, line in enumerate(texts) if line == ": keep-alive"]
    assert len(keepalives) >= 2, texts
    assert texts.index("event: meta") < keepalives[0]
    assert all(i < first_token for i in keepalives), texts
    # They reached the client as they were written, well before the first token.
    assert lines[keepalives[0]][0] < lines[first_token][0] - 0.15
    data = [json.loads(line[len("data: ") :]) for line in texts if line.startswith("data: ")]
    assert "".join(d["content"] for d in data if set(d) == {"content"}) == "Hello, world!"
    assert (texts[-3], texts[-1]) == ("event: done", "")
    assert json.loads(texts[-2][len("data: ") :])["partial"] is False


@pytest.mark.parametrize("model", [OLLAMA_MODEL, OPENAI_MODEL])
async def test_a_model_silent_between_tokens_times_out(
    impatient_stack: AiStack, model: str
) -> None:
    stack = impatient_stack
    fake = stack.fake
    fake.hold, fake.hold_after = asyncio.Event(), 1
    owner = await stack.tenant("acme")
    try:
        async with asyncio.timeout(15):  # a stalled model must not stall the client
            got = await ask(stack.http, owner, {"message": "Say hello", "model": model})
    finally:
        assert fake.hold is not None
        fake.hold.set()
    assert [name for name, _ in got.events] == ["meta", "token", "error"]
    assert got.text == "Hello"
    error = got.named("error")[0]
    assert error["code"] == "provider_unavailable"
    assert error["detail"]
    assert error["message_id"] == got.meta["message_id"]
    await fake.wait_cancelled()
    assert fake.completed == 0
    saved = await conversation(stack.http, owner, got.meta["conversation_id"])
    reply = saved["messages"]["items"][-1]
    assert reply["id"] == got.meta["message_id"]
    assert (reply["role"], reply["content"], reply["partial"]) == ("assistant", "Hello", True)
    assert reply["finish_reason"] == "error"


@pytest.mark.parametrize("model", [OLLAMA_MODEL, OPENAI_MODEL])
async def test_a_model_that_never_starts_times_out(impatient_stack: AiStack, model: str) -> None:
    """Past the start grace the answer has begun (`meta`, keep-alives): a model silent
    for the whole first-token allowance ends it with an `error` event; the question stays
    in the conversation, no reply is saved."""
    stack = impatient_stack
    fake = stack.fake
    hold = fake.hold = asyncio.Event()  # before the very first token
    owner = await stack.tenant("acme")
    try:
        async with asyncio.timeout(15):
            got = await ask(stack.http, owner, {"message": "Say hello", "model": model})
    finally:
        hold.set()
    assert [name for name, _ in got.events] == ["meta", "error"]
    error = got.named("error")[0]
    assert (error["code"], error["message_id"]) == ("provider_unavailable", None)
    await fake.wait_cancelled()
    saved = await conversation(stack.http, owner, got.meta["conversation_id"])
    assert [(m["role"], m["content"]) for m in saved["messages"]["items"]] == [
        ("user", "Say hello")
    ]
    assert saved["message_count"] == 1


@pytest.mark.parametrize("model", [OLLAMA_MODEL, OPENAI_MODEL])
async def test_provider_error_mid_stream_ends_with_an_error_event(
    stack: AiStack, model: str
) -> None:
    owner = await stack.tenant("acme")
    stack.fake.fail_after = 2
    got = await ask(stack.http, owner, {"message": "Say hello", "model": model})
    assert got.status == 200, got.problem
    assert [name for name, _ in got.events] == ["meta", "token", "token", "error"]
    assert got.text == "Hello,"
    error = got.named("error")[0]
    assert error["code"] == "provider_unavailable"
    assert error["message_id"] == got.meta["message_id"]
    assert stack.fake.failed == 1 and stack.fake.completed == 0
    saved = await conversation(stack.http, owner, got.meta["conversation_id"])
    assert [(m["role"], m["content"], m["partial"]) for m in saved["messages"]["items"]] == [
        ("user", "Say hello", False),
        ("assistant", "Hello,", True),
    ]
    assert saved["messages"]["items"][-1]["finish_reason"] == "error"
    assert saved["message_count"] == 2
    # A failure is not sticky: the next question is answered in full.
    stack.fake.fail_after = None
    again = await ask(
        stack.http,
        owner,
        {"message": "Again", "conversation_id": got.meta["conversation_id"]},
    )
    assert again.text == "Hello, world!" and again.named("done")[0]["partial"] is False


async def test_stop_from_another_client_ends_the_stream_as_stopped(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    hold = stack.fake.hold = asyncio.Event()
    stack.fake.hold_after = 1
    try:
        async with ask_stream(stack.http, owner, {"message": "Say hello"}) as events:
            name, meta = await next_event(events)
            assert name == "meta"
            assert await next_event(events) == ("token", {"content": "Hello"})
            async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=5) as other:
                stopped = await other.post(
                    f"{AI}/conversations/{meta['conversation_id']}/stop", headers=owner.headers
                )
            assert stopped.status_code == 204, stopped.text
            assert stopped.content == b""
            rest = [event async for event in events]
    finally:
        hold.set()
    assert [name for name, _ in rest] == ["done"]
    done = rest[0][1]
    assert done["message_id"] == meta["message_id"]
    assert (done["partial"], done["finish_reason"]) == (True, "stopped")
    assert done["usage"]["estimated"] is True  # the provider never reported counts
    assert done["usage"]["output_tokens"] >= 1 and done["usage"]["input_tokens"] >= 1
    await stack.fake.wait_cancelled()
    assert stack.fake.completed == 0
    conversation_id = meta["conversation_id"]
    saved = await conversation(stack.http, owner, conversation_id)
    reply = saved["messages"]["items"][-1]
    assert (reply["id"], reply["content"], reply["partial"]) == (meta["message_id"], "Hello", True)
    assert reply["finish_reason"] == "stopped"
    assert reply["usage"] == done["usage"]
    usage = await stack.http.get(f"{AI}/usage", headers=owner.headers)
    counted = done["usage"]["input_tokens"] + done["usage"]["output_tokens"]
    assert usage.json()["used_today"] == counted  # a stopped reply is counted too

    # Nothing running: still 204; and the stop does not linger for the next answer.
    again = await stack.http.post(
        f"{AI}/conversations/{conversation_id}/stop", headers=owner.headers
    )
    assert again.status_code == 204, again.text
    stack.fake.hold = None
    follow = await ask(stack.http, owner, {"message": "Go on", "conversation_id": conversation_id})
    assert follow.text == "Hello, world!"
    assert follow.named("done")[0]["partial"] is False
    assert follow.named("done")[0]["finish_reason"] == "stop"


async def test_stop_reaches_the_replica_running_the_stream(
    mongo_url: str, redis_url: str, db_name: str
) -> None:
    fake = FakeLLM(hold=asyncio.Event(), hold_after=1)
    async with serve_fake_llm(fake) as llm_url:
        settings = StackMaker(mongo_url, redis_url, db_name).settings(llm_url)
        async with ai_stack(settings, fake, llm_url) as first:
            owner = await first.tenant("acme")
            async with ai_stack(settings, fake, llm_url) as second:
                assert second.http.base_url != first.http.base_url
                try:
                    async with ask_stream(first.http, owner, {"message": "Say hello"}) as events:
                        _, meta = await next_event(events)
                        assert await next_event(events) == ("token", {"content": "Hello"})
                        stopped = await second.http.post(
                            f"{AI}/conversations/{meta['conversation_id']}/stop",
                            headers=owner.headers,
                        )
                        assert stopped.status_code == 204, stopped.text
                        rest = [event async for event in events]
                finally:
                    assert fake.hold is not None
                    fake.hold.set()
                assert [name for name, _ in rest] == ["done"]
                assert rest[0][1]["finish_reason"] == "stopped"
                assert rest[0][1]["partial"] is True
                await fake.wait_cancelled()
                saved = await conversation(second.http, owner, meta["conversation_id"])
                assert saved["messages"]["items"][-1]["content"] == "Hello"
                assert saved["messages"]["items"][-1]["partial"] is True


async def test_usage_report_shows_rows_per_user_and_model(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    member = await stack.member(owner, "max")
    beta = await stack.tenant("beta")
    for _ in range(2):
        got = await ask(stack.http, owner, {"message": "Say hello", "model": OLLAMA_MODEL})
        assert got.named("done")[0]["usage"]["input_tokens"] == 2
    got = await ask(stack.http, member, {"message": "Say hello there", "model": OPENAI_MODEL})
    assert got.named("done")[0]["usage"] == {
        "input_tokens": 3,
        "output_tokens": 4,
        "estimated": False,
    }
    await ask(stack.http, beta, {"message": "Other tenant words here", "model": OLLAMA_MODEL})

    response = await stack.http.get(f"{AI}/usage", headers=owner.headers)
    assert response.status_code == 200, response.text
    report = response.json()
    today = datetime.now(UTC).date()
    assert report["until"] == today.isoformat()
    assert report["since"] == (today - timedelta(days=29)).isoformat()
    rows = sorted(report["items"], key=lambda row: (row["user_id"], row["model"]))
    expected = [
        {
            "day": today.isoformat(), "user_id": owner.user_id, "model": OLLAMA_MODEL,
            "provider": "ollama", "input_tokens": 4, "output_tokens": 8, "messages": 2,
        },
        {
            "day": today.isoformat(), "user_id": member.user_id, "model": OPENAI_MODEL,
            "provider": "openai", "input_tokens": 3, "output_tokens": 4, "messages": 1,
        },
    ]  # fmt: skip
    assert rows == sorted(expected, key=lambda row: (row["user_id"], row["model"]))
    assert (report["input_tokens"], report["output_tokens"]) == (7, 12)
    assert report["used_today"] == 19
    assert report["daily_token_quota"] is None

    mine = await stack.http.get(
        f"{AI}/usage", params={"user_id": member.user_id}, headers=owner.headers
    )
    assert mine.status_code == 200, mine.text
    assert [row["user_id"] for row in mine.json()["items"]] == [member.user_id]
    assert (mine.json()["input_tokens"], mine.json()["output_tokens"]) == (3, 4)

    yesterday = (today - timedelta(days=1)).isoformat()
    past = await stack.http.get(
        f"{AI}/usage", params={"since": yesterday, "until": yesterday}, headers=owner.headers
    )
    assert past.status_code == 200 and past.json()["items"] == []
    backwards = await stack.http.get(
        f"{AI}/usage", params={"since": today.isoformat(), "until": yesterday},
        headers=owner.headers,
    )  # fmt: skip
    assert_problem(backwards, 422, "invalid_input")
