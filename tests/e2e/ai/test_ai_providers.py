"""Models and providers: what `/models` offers, the tenant's settings and quota, providers
that are down, refuse or lack a model, and bad input to `/ask`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.ai_stack import (
    AI,
    CLOSED_PORT_URL,
    OLLAMA_MODEL,
    OPENAI_KEY,
    OPENAI_MODEL,
    AiStack,
    Person,
    StackMaker,
    ask,
    conversation,
    conversations,
    fresh,
    put_ai_settings,
    stored_messages,
)
from tests.support.app import assert_problem
from tests.support.fake_llm import FakeLLM

NO_SETTINGS = {"allowed_models": None, "default_model": None, "daily_token_quota": None}


@pytest.fixture
def make_stack(mongo_url: str, redis_url: str, db_name: str) -> StackMaker:
    return StackMaker(mongo_url, redis_url, db_name)


@pytest.fixture(scope="module")
async def shared_configured_stack(
    mongo_url: str, redis_url: str, db_name: str
) -> AsyncIterator[AiStack]:
    settings: dict[str, Any] = {
        "ollama_models": ["mistral:7b"],
        "openai_models": [OPENAI_MODEL, "not-served"],
        "ai_default_model": OPENAI_MODEL,
        "ai_max_message_chars": 20,
    }
    async with StackMaker(mongo_url, redis_url, db_name)(**settings) as running:
        yield running


@pytest.fixture
def configured_stack(shared_configured_stack: AiStack) -> AiStack:
    """A deployment offering only Ollama's `mistral:7b` and OpenAI's `gpt-4o-mini` (and a
    `not-served` one), `gpt-4o-mini` by default, messages of at most 20 characters."""
    return fresh(shared_configured_stack)


async def _models(stack: AiStack, person: Person) -> dict[str, dict[str, Any]]:
    """GET /ai/models by id (must answer 200)."""
    response = await stack.http.get(f"{AI}/models", headers=person.headers)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert all({"id", "provider", "default", "details"} <= set(item) for item in items)
    by_id = {item["id"]: item for item in items}
    assert len(by_id) == len(items)
    return by_id


async def _total_conversations(stack: AiStack, person: Person) -> int:
    return int((await conversations(stack.http, person))["total"])


async def test_models_are_read_from_both_providers(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    member = await stack.member(owner, "max")
    models = await _models(stack, member)
    assert {name: m["provider"] for name, m in models.items()} == {
        OLLAMA_MODEL: "ollama",
        OPENAI_MODEL: "openai",
    }
    assert not any(m["default"] for m in models.values())
    assert models[OLLAMA_MODEL]["details"]["details"]["family"] == "llama"
    assert models[OPENAI_MODEL]["details"]["owned_by"] == "system"

    # What the providers serve now, not a list fixed at start-up (the cache is off here).
    stack.fake.ollama_models["mistral:7b"] = ["Bonjour", "!"]
    stack.fake.openai_models["gpt-4.1"] = ["Hi"]
    del stack.fake.openai_models[OPENAI_MODEL]
    models = await _models(stack, member)
    assert {name: m["provider"] for name, m in models.items()} == {
        OLLAMA_MODEL: "ollama",
        "mistral:7b": "ollama",
        "gpt-4.1": "openai",
    }
    got = await ask(stack.http, member, {"message": "Salut", "model": "mistral:7b"})
    assert got.status == 200, got.problem
    assert (got.meta["model"], got.meta["provider"], got.text) == (
        "mistral:7b",
        "ollama",
        "Bonjour!",
    )
    assert stack.fake.requests[-1]["model"] == "mistral:7b"
    gone = await ask(stack.http, member, {"message": "Hi", "model": OPENAI_MODEL})
    assert gone.status == 422 and gone.problem is not None
    assert gone.problem["code"] == "unknown_model"


async def test_the_deployment_narrows_each_providers_models(configured_stack: AiStack) -> None:
    stack = configured_stack
    fake = stack.fake
    fake.ollama_models = {OLLAMA_MODEL: ["A"], "mistral:7b": ["B"]}
    fake.openai_models = {OPENAI_MODEL: ["C"], "gpt-4.1": ["D"]}
    owner = await stack.tenant("acme")
    assert set(await _models(stack, owner)) == {"mistral:7b", OPENAI_MODEL}
    for hidden in (OLLAMA_MODEL, "gpt-4.1", "not-served"):
        got = await ask(stack.http, owner, {"message": "Hi", "model": hidden})
        assert got.status == 422 and got.problem is not None, hidden
        assert got.problem["code"] == "unknown_model"
    assert fake.started == 0 and fake.requests == []
    got = await ask(stack.http, owner, {"message": "Hi", "model": "mistral:7b"})
    assert got.text == "B"


async def test_an_unknown_model_is_refused_before_any_call(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    for name in ("no-such-model", "llama3.2", " " + OLLAMA_MODEL):
        got = await ask(stack.http, owner, {"message": "Hi", "model": name})
        assert got.status == 422 and got.problem is not None, name
        assert got.problem["code"] == "unknown_model"
        assert got.problem["detail"]
    assert stack.fake.started == 0 and stack.fake.requests == []
    assert await _total_conversations(stack, owner) == 0
    assert await stored_messages() == 0


async def test_tenant_allow_list_and_default(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    member = await stack.member(owner, "max")
    beta = await stack.tenant("beta")
    before = await ask(stack.http, member, {"message": "Hi", "model": OPENAI_MODEL})
    openai_conversation = before.meta["conversation_id"]

    saved = await put_ai_settings(
        stack.http,
        owner,
        {
            "allowed_models": [OLLAMA_MODEL],
            "default_model": OLLAMA_MODEL,
            "daily_token_quota": None,
        },
    )
    assert saved["allowed_models"] == [OLLAMA_MODEL]
    assert saved["default_model"] == OLLAMA_MODEL
    assert saved["daily_token_quota"] is None and saved["updated_at"]
    got = await stack.http.get(f"{AI}/settings", headers=owner.headers)
    assert got.status_code == 200
    assert {k: v for k, v in got.json().items() if k != "updated_at"} == {
        k: v for k, v in saved.items() if k != "updated_at"
    }

    models = await _models(stack, member)
    assert list(models) == [OLLAMA_MODEL] and models[OLLAMA_MODEL]["default"] is True
    started = stack.fake.started
    refused = await ask(stack.http, member, {"message": "Hi", "model": OPENAI_MODEL})
    assert refused.status == 422 and refused.problem is not None
    assert refused.problem["code"] == "unknown_model"
    # A conversation held with a model no longer allowed cannot go on with it.
    continued = await ask(
        stack.http, member, {"message": "More", "conversation_id": openai_conversation}
    )
    assert continued.status == 422 and continued.problem is not None
    assert continued.problem["code"] == "unknown_model"
    assert stack.fake.started == started
    assert (await conversation(stack.http, member, openai_conversation))["message_count"] == 2
    # Without a model: the tenant's default.
    default = await ask(stack.http, member, {"message": "Hi"})
    assert (default.meta["model"], default.meta["provider"]) == (OLLAMA_MODEL, "ollama")
    # Another tenant is not narrowed.
    assert set(await _models(stack, beta)) == {OLLAMA_MODEL, OPENAI_MODEL}
    other = await ask(stack.http, beta, {"message": "Hi", "model": OPENAI_MODEL})
    assert other.status == 200, other.problem

    # A default among everything offered; then back to no settings at all.
    await put_ai_settings(
        stack.http, owner, {"allowed_models": None, "default_model": OPENAI_MODEL}
    )
    models = await _models(stack, member)
    assert {m["id"] for m in models.values() if m["default"]} == {OPENAI_MODEL}
    chosen = await ask(stack.http, member, {"message": "Hi"})
    assert (chosen.meta["model"], chosen.meta["provider"]) == (OPENAI_MODEL, "openai")
    cleared = await put_ai_settings(stack.http, owner, {})
    assert {k: cleared[k] for k in NO_SETTINGS} == NO_SETTINGS
    assert not any(m["default"] for m in (await _models(stack, member)).values())


async def test_the_deployment_default_model_is_the_one_flagged(configured_stack: AiStack) -> None:
    """`AI_DEFAULT_MODEL` is what `/ask` uses without a model; `/models` says so."""
    stack = configured_stack
    owner = await stack.tenant("acme")
    got = await ask(stack.http, owner, {"message": "Hi"})
    assert (got.meta["model"], got.meta["provider"]) == (OPENAI_MODEL, "openai")
    models = await _models(stack, owner)
    assert {m["id"] for m in models.values() if m["default"]} == {OPENAI_MODEL}


async def test_settings_are_validated(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    member = await stack.member(owner, "max")
    url = f"{AI}/settings"
    bad_bodies: list[Any] = [
        {"allowed_models": [OLLAMA_MODEL], "default_model": OPENAI_MODEL},
        {"allowed_models": [], "default_model": OLLAMA_MODEL},
        {"daily_token_quota": 0},
        {"daily_token_quota": -5},
        {"daily_token_quota": "lots"},
        {"allowed_models": [""]},
        {"allowed_models": ["   "]},
        {"allowed_models": "llama3.2:latest"},
        {"default_model": "x" * 201},
        {"allowed_models": None, "colour": "blue"},
        [],
    ]
    for body in bad_bodies:
        response = await stack.http.put(url, json=body, headers=owner.headers)
        assert_problem(response, 422, "invalid_input")
    mismatch = await stack.http.put(url, json=bad_bodies[0], headers=owner.headers)
    assert ["body", "default_model"] in [e["loc"] for e in mismatch.json()["errors"]]
    not_json = await stack.http.put(
        url, content=b"{nope", headers={**owner.headers, "Content-Type": "application/json"}
    )
    assert_problem(not_json, 422, "invalid_input")
    forbidden = await stack.http.put(url, json={"daily_token_quota": 10}, headers=member.headers)
    assert_problem(forbidden, 403, "forbidden")

    unchanged = await stack.http.get(url, headers=owner.headers)
    assert unchanged.status_code == 200
    assert unchanged.json() == {**NO_SETTINGS, "updated_at": None}

    # Names are trimmed and deduplicated in order; the whole document is replaced.
    saved = await put_ai_settings(
        stack.http,
        owner,
        {"allowed_models": [" b ", "a", "b"], "default_model": "a", "daily_token_quota": 1000},
    )
    assert (saved["allowed_models"], saved["default_model"]) == (["b", "a"], "a")
    replaced = await put_ai_settings(stack.http, owner, {"daily_token_quota": 5})
    assert (replaced["allowed_models"], replaced["default_model"]) == (None, None)
    assert replaced["daily_token_quota"] == 5
    # What PUT answers is what GET reads back (the database keeps milliseconds).
    read = await stack.http.get(url, headers=owner.headers)
    assert read.json() == replaced


async def test_daily_quota_refuses_asks_once_spent(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    member = await stack.member(owner, "max")
    beta = await stack.tenant("beta")
    await put_ai_settings(stack.http, owner, {"daily_token_quota": 5})
    first = await ask(stack.http, owner, {"message": "Say hello"})  # 2 in + 4 out
    assert first.status == 200, first.problem
    conversation_id = first.meta["conversation_id"]
    assert stack.fake.started == 1

    for person, body in (
        (owner, {"message": "Again"}),
        (member, {"message": "Me too"}),
        (owner, {"message": "Go on", "conversation_id": conversation_id}),
    ):
        refused = await stack.http.post(f"{AI}/ask", json=body, headers=person.headers)
        problem = assert_problem(refused, 429, "quota_exceeded")
        assert "5" in problem["detail"]
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 24 * 3600
    assert stack.fake.started == 1
    assert await _total_conversations(stack, owner) == 1
    assert await _total_conversations(stack, member) == 0
    assert (await conversation(stack.http, owner, conversation_id))["message_count"] == 2

    usage = await stack.http.get(f"{AI}/usage", headers=owner.headers)
    assert usage.status_code == 200, usage.text
    assert (usage.json()["used_today"], usage.json()["daily_token_quota"]) == (6, 5)

    # Each tenant has its own budget; a larger quota lets the tenant go on.
    other = await ask(stack.http, beta, {"message": "Say hello"})
    assert other.status == 200, other.problem
    await put_ai_settings(stack.http, owner, {"daily_token_quota": 1000})
    again = await ask(stack.http, member, {"message": "Now?"})
    assert again.status == 200 and again.text == "Hello, world!"


async def test_a_provider_that_is_down_is_503_and_nothing_is_saved(
    make_stack: StackMaker,
) -> None:
    async with make_stack(llm_url=CLOSED_PORT_URL) as stack:
        owner = await stack.tenant("acme")
        models = await stack.http.get(f"{AI}/models", headers=owner.headers)
        assert_problem(models, 503, "provider_unavailable")
        assert int(models.headers["retry-after"]) >= 1
        for body in ({"message": "Hi"}, {"message": "Hi", "model": OLLAMA_MODEL}):
            refused = await stack.http.post(f"{AI}/ask", json=body, headers=owner.headers)
            assert_problem(refused, 503, "provider_unavailable")
        assert await _total_conversations(stack, owner) == 0
        assert await stored_messages() == 0
        # What needs no provider still works.
        settings = await stack.http.get(f"{AI}/settings", headers=owner.headers)
        assert settings.status_code == 200, settings.text


@pytest.mark.parametrize("model", [OLLAMA_MODEL, OPENAI_MODEL])
async def test_a_provider_failing_before_the_first_token_leaves_nothing(
    stack: AiStack, model: str
) -> None:
    owner = await stack.tenant("acme")
    stack.fake.chat_status = 503
    refused = await stack.http.post(
        f"{AI}/ask", json={"message": "Hi", "model": model}, headers=owner.headers
    )
    assert_problem(refused, 503, "provider_unavailable")
    assert stack.fake.requests and stack.fake.requests[-1]["model"] == model  # it was asked
    assert await _total_conversations(stack, owner) == 0
    assert await stored_messages() == 0

    # Continuing a conversation: it is left exactly as it was.
    stack.fake.chat_status = None
    other = OPENAI_MODEL if model == OLLAMA_MODEL else OLLAMA_MODEL
    first = await ask(stack.http, owner, {"message": "Hi", "model": other})
    conversation_id = first.meta["conversation_id"]
    before = await conversation(stack.http, owner, conversation_id)
    stack.fake.chat_status = 500
    refused = await stack.http.post(
        f"{AI}/ask",
        json={"message": "More", "model": model, "conversation_id": conversation_id},
        headers=owner.headers,
    )
    assert_problem(refused, 503, "provider_unavailable")
    after = await conversation(stack.http, owner, conversation_id)
    assert after["messages"] == before["messages"]
    assert after["message_count"] == before["message_count"] == 2
    assert await stored_messages() == 2
    assert (after["model"], after["provider"]) == (before["model"], before["provider"])
    assert after["updated_at"] == before["updated_at"]


@pytest.mark.parametrize("model", [OLLAMA_MODEL, OPENAI_MODEL])
async def test_a_model_the_provider_lacks_is_404_and_nothing_is_saved(
    stack: AiStack, model: str
) -> None:
    owner = await stack.tenant("acme")
    stack.fake.chat_status = 404
    refused = await stack.http.post(
        f"{AI}/ask", json={"message": "Hi", "model": model}, headers=owner.headers
    )
    assert model in assert_problem(refused, 404, "model_not_found")["detail"]
    assert await _total_conversations(stack, owner) == 0
    assert await stored_messages() == 0


async def test_a_refused_openai_key_is_503_and_never_shown(make_stack: StackMaker) -> None:
    fake = FakeLLM(api_key="sk-the-right-key-is-another-one")
    async with make_stack(fake, ollama_host=None) as stack:  # OpenAI only
        owner = await stack.tenant("acme")
        models = await stack.http.get(f"{AI}/models", headers=owner.headers)
        assert_problem(models, 503, "provider_rejected")
        refused = await stack.http.post(f"{AI}/ask", json={"message": "Hi"}, headers=owner.headers)
        assert_problem(refused, 503, "provider_rejected")
        for response in (models, refused):
            assert OPENAI_KEY not in response.text
            assert fake.api_key is not None and fake.api_key not in response.text

        # With the key the server expects, the same deployment works (the key is sent) ...
        fake.api_key = OPENAI_KEY
        assert set(await _models(stack, owner)) == {OPENAI_MODEL}
        got = await ask(stack.http, owner, {"message": "Hi"})
        assert got.status == 200 and got.text == "Hello, world!"
        # ... and a key revoked later is refused at the chat call too, nothing saved.
        fake.api_key = "sk-rotated-key-0000"
        refused = await stack.http.post(
            f"{AI}/ask", json={"message": "Hi", "model": OPENAI_MODEL}, headers=owner.headers
        )
        assert_problem(refused, 503, "provider_rejected")
        assert OPENAI_KEY not in refused.text
        assert await _total_conversations(stack, owner) == 1
        assert await stored_messages() == 2


async def test_bad_input_to_ask_is_422(configured_stack: AiStack) -> None:
    stack = configured_stack
    owner = await stack.tenant("acme")
    url = f"{AI}/ask"
    bodies: list[Any] = [
        {},
        {"message": ""},
        {"message": "   \n\t "},
        {"message": "x" * 21},
        {"message": 5},
        {"message": None},
        {"message": "Hi", "extra": 1},
        {"message": "Hi", "model": "m" * 201},
        {"message": "Hi", "conversation_id": ""},
        ["Hi"],
    ]
    for body in bodies:
        response = await stack.http.post(url, json=body, headers=owner.headers)
        assert_problem(response, 422, "invalid_input")
    too_long = await stack.http.post(url, json={"message": "y" * 21}, headers=owner.headers)
    assert ["body", "message"] in [e["loc"] for e in too_long.json()["errors"]]
    for raw in (b"not json", b'{"message": "Hi"', b""):
        response = await stack.http.post(
            url, content=raw, headers={**owner.headers, "Content-Type": "application/json"}
        )
        assert_problem(response, 422, "invalid_input")
    assert stack.fake.started == 0
    assert await _total_conversations(stack, owner) == 0

    at_limit = await ask(stack.http, owner, {"message": "z" * 20})
    assert at_limit.status == 200 and at_limit.text == "Hello, world!"
    assert stack.fake.started == 1
    # An empty model name is refused like an empty conversation id, not read as "any".
    empty_model = await stack.http.post(
        url, json={"message": "Hi", "model": ""}, headers=owner.headers
    )
    assert_problem(empty_model, 422, "invalid_input")
