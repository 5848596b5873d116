"""The AI tests' stack: Parley served by uvicorn over real TCP (streams, disconnects), the
fake LLM server speaking Ollama's and OpenAI's formats, signed-in users, an SSE reader."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import punq
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from httpx_sse import aconnect_sse

from api.config import AiSettings, Settings
from api.infrastructure.persistence.ai.messages import AiMessageDocument
from api.main import create_app
from api.usecases.tenants.create_tenant import CreatedTenant, CreateTenant
from api.usecases.tenants.rules import OPERATOR
from tests.support.app import container_of
from tests.support.asgi_server import serve_asgi
from tests.support.fake_llm import FakeLLM, serve_fake_llm
from tests.support.onboarding import OWNER_PASSWORD
from tests.support.settings import make_settings

OPENAI_KEY = "sk-test-secret-key-0123456789"
OLLAMA_MODEL = "llama3.2:latest"
OPENAI_MODEL = "gpt-4o-mini"
MEMBER_PASSWORD = "member-password-1"


def ai_settings(
    mongo_url: str, redis_url: str, db_name: str, llm_url: str | None, **ai: Any
) -> Settings:
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    fields: dict[str, Any] = {"ai_models_cache_seconds": 0, "ai_start_grace_seconds": 2.0}
    if llm_url is not None:
        fields |= {
            "ollama_host": llm_url,
            "openai_base_url": llm_url + "/v1",
            "openai_api_key": OPENAI_KEY,
        }
    fields |= ai
    return settings.model_copy(update={"ai": AiSettings(_env_file=None, **fields)})


@dataclass
class Person:
    user_id: str
    tenant_id: str
    headers: dict[str, str]


@dataclass
class AiStack:
    app: FastAPI
    http: httpx.AsyncClient  # over TCP
    fake: FakeLLM
    llm_url: str | None
    people: dict[str, Person] = field(default_factory=dict)

    @property
    def container(self) -> punq.Container:
        return container_of(self.app)

    async def tenant(self, subdomain: str) -> Person:
        """A tenant and its owner, signed in (owners hold `ai:use` and `ai:manage`)."""
        onboarded: CreatedTenant = await self.container.resolve(CreateTenant).execute(
            OPERATOR, name=subdomain.title(), subdomain=subdomain,
            owner_email=f"owner@{subdomain}.example.com", owner_full_name="Olivia Owner",
            owner_password=OWNER_PASSWORD,
        )  # fmt: skip
        tenant_id = onboarded.tenant.id or ""
        owner = await self.sign_in(onboarded.owner.email, OWNER_PASSWORD, tenant_id)
        self.people[f"owner@{subdomain}"] = owner
        return owner

    async def sign_in(self, email: str, password: str, tenant_id: str) -> Person:
        response = await self.http.post(
            "/api/v1/auth/login",
            json={"email": email, "password": password},
            headers={"X-Tenant-ID": tenant_id},
        )
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "X-Tenant-ID": tenant_id}
        me = await self.http.get("/api/v1/auth/me", headers=headers)
        assert me.status_code == 200, me.text
        return Person(me.json()["id"], tenant_id, headers)

    async def member(self, owner: Person, name: str) -> Person:
        """A member (default role: `ai:use`, no `ai:manage`) of the owner's tenant."""
        email = f"{name}@{owner.tenant_id}.example.com"
        created = await self.http.post(
            "/api/v1/users",
            json={"email": email, "full_name": name.title(), "password": MEMBER_PASSWORD},
            headers=owner.headers,
        )
        assert created.status_code == 201, created.text
        return await self.sign_in(email, MEMBER_PASSWORD, owner.tenant_id)


@contextlib.asynccontextmanager
async def ai_stack(
    settings: Settings, fake: FakeLLM, llm_url: str | None
) -> AsyncIterator[AiStack]:
    app = create_app(settings)
    async with (
        LifespanManager(app, startup_timeout=30, shutdown_timeout=30),
        serve_asgi(app, graceful_seconds=2) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=15) as http,
    ):
        yield AiStack(app=app, http=http, fake=fake, llm_url=llm_url)


@dataclass
class Streamed:
    """What one `POST /ask` gave: status, headers, and events `(name, data)` in order."""

    status: int
    headers: httpx.Headers
    events: list[tuple[str, dict[str, Any]]]
    problem: dict[str, Any] | None = None

    def named(self, name: str) -> list[dict[str, Any]]:
        return [data for event, data in self.events if event == name]

    @property
    def text(self) -> str:
        return "".join(data["content"] for data in self.named("token"))

    @property
    def meta(self) -> dict[str, Any]:
        return self.named("meta")[0]


async def ask(
    http: httpx.AsyncClient, person: Person, body: dict[str, Any], *, stop_after: int | None = None
) -> Streamed:
    """POST /ai/ask read with httpx-sse; `stop_after` tokens: close the connection there."""
    async with aconnect_sse(
        http, "POST", "/api/v1/ai/ask", json=body, headers=person.headers
    ) as source:
        response = source.response
        if response.status_code != 200:
            await response.aread()
            return Streamed(response.status_code, response.headers, [], response.json())
        events: list[tuple[str, dict[str, Any]]] = []
        tokens = 0
        async for sse in source.aiter_sse():
            events.append((sse.event, sse.json()))
            if sse.event == "token":
                tokens += 1
                if stop_after is not None and tokens >= stop_after:
                    break
        return Streamed(response.status_code, response.headers, events)


async def eventually(check: Any, timeout: float = 5.0) -> Any:
    """Poll the coroutine function `check` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {timeout} s: {value!r}")
        await asyncio.sleep(0.02)


# -- Added helpers (stacks with their own settings, reading a stream step by step) --------

AI = "/api/v1/ai"
CLOSED_PORT_URL = "http://127.0.0.1:9"  # nothing listens there: a provider that is down


class StackMaker:
    """`async with make(fake, **ai_settings) as stack:` a fresh fake LLM server (unless
    `llm_url` is given: then no fake server runs) and Parley configured for it."""

    def __init__(self, mongo_url: str, redis_url: str, db_name: str) -> None:
        self._servers = (mongo_url, redis_url, db_name)

    def settings(self, llm_url: str, **ai: Any) -> Settings:
        return ai_settings(*self._servers, llm_url, **ai)

    @contextlib.asynccontextmanager
    async def __call__(
        self, fake: FakeLLM | None = None, *, llm_url: str | None = None, **ai: Any
    ) -> AsyncIterator[AiStack]:
        fake = fake or FakeLLM()
        if llm_url is not None:
            async with ai_stack(self.settings(llm_url, **ai), fake, llm_url) as running:
                yield running
            return
        async with contextlib.AsyncExitStack() as stack:
            url = await stack.enter_async_context(serve_fake_llm(fake))
            settings = self.settings(url, **ai)
            yield await stack.enter_async_context(ai_stack(settings, fake, url))


Event = tuple[str, dict[str, Any]]


@contextlib.asynccontextmanager
async def ask_stream(
    http: httpx.AsyncClient, person: Person, body: dict[str, Any]
) -> AsyncIterator[AsyncIterator[Event]]:
    """POST /ai/ask that must answer 200; yields its events `(name, data)` one at a time
    (the test reads as far as it wants; leaving the block closes the connection)."""
    async with aconnect_sse(http, "POST", f"{AI}/ask", json=body, headers=person.headers) as source:
        response = source.response
        if response.status_code != 200:
            await response.aread()
            raise AssertionError(f"/ask answered {response.status_code}: {response.text}")

        async def events() -> AsyncIterator[Event]:
            async for sse in source.aiter_sse():
                yield sse.event, sse.json()

        yield events()


async def next_event(events: AsyncIterator[Event], timeout: float = 5.0) -> Event:
    """The next event of an `ask_stream`, within `timeout` seconds."""
    async with asyncio.timeout(timeout):
        return await anext(events)


async def conversation(
    http: httpx.AsyncClient, person: Person, conversation_id: str, **params: Any
) -> dict[str, Any]:
    """GET /ai/conversations/{id} (must answer 200)."""
    response = await http.get(
        f"{AI}/conversations/{conversation_id}", params=params, headers=person.headers
    )
    assert response.status_code == 200, response.text
    return cast(dict[str, Any], response.json())


async def conversations(http: httpx.AsyncClient, person: Person, **params: Any) -> dict[str, Any]:
    """GET /ai/conversations (must answer 200)."""
    response = await http.get(f"{AI}/conversations", params=params, headers=person.headers)
    assert response.status_code == 200, response.text
    return cast(dict[str, Any], response.json())


async def put_ai_settings(
    http: httpx.AsyncClient, person: Person, body: dict[str, Any]
) -> dict[str, Any]:
    """PUT /ai/settings (must answer 200)."""
    response = await http.put(f"{AI}/settings", json=body, headers=person.headers)
    assert response.status_code == 200, response.text
    return cast(dict[str, Any], response.json())


async def stored_messages(conversation_id: str | None = None) -> int:
    """How many messages the database holds for a conversation (any tenant), or at all."""
    collection = AiMessageDocument.get_pymongo_collection()
    query = {} if conversation_id is None else {"conversation_id": conversation_id}
    return int(await collection.count_documents(query))


def sent_messages(request: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, content) of each message of a chat request the fake received."""
    return [(str(m["role"]), str(m["content"])) for m in request["messages"]]


def fresh(stack: AiStack) -> AiStack:
    """A stack shared by several tests, made ready for the next one: its fake LLM back to
    a new `FakeLLM`'s behaviour and records (the same object: its server holds it), and
    nobody signed in. (The database and Redis are emptied per test by `clean_state`.)"""
    stack.fake.restore()
    stack.people.clear()
    return stack
