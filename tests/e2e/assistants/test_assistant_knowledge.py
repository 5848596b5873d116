"""Assistants answering from their documents: a document indexed by the session's real
worker (embeddings at the fake LLM), `POST /assistants/{id}/test` answering with the
passages it used as sources, a question the documents do not cover handed over when the
`when_unsure` rule says so, the documents deleted with the assistant; a customer's
WhatsApp question answered from the documents by the real reply job; and the test
route's auth, isolation and bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import punq
import pytest

from api.config import AiSettings
from api.infrastructure.persistence.ai.knowledge_index import KnowledgeChunkDocument
from api.usecases.assistants.brain import UNCOVERED
from tests.support.app import AppClient, assert_problem, serve
from tests.support.fake_graph import FakeGraph
from tests.support.fake_llm import FakeLLM
from tests.support.inbox import stored_channel
from tests.support.people import signed_in, two_tenants
from tests.support.settings import make_settings
from tests.support.workers import KNOWLEDGE_MODEL, LLM_KEY

from .conftest import ASSISTANTS, create_assistant, eventually
from .test_assistant_replies import conversation, run_of, sent_texts, writes

HOURS = "Our shop opening hours are Monday to Friday from nine to five."
REFUNDS = "Refunds are possible within thirty days with the original receipt."


@pytest.fixture
async def client(
    mongo_url: str, redis_url: str, db_name: str, session_llm: tuple[FakeLLM, str]
) -> AsyncIterator[AppClient]:
    """The app as the session's worker is configured: the session's fake LLM, with its
    Ollama embeddings model for knowledge (and the same local storage folder)."""
    url = session_llm[1]
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    ai = AiSettings(
        _env_file=None, ollama_host=url, openai_base_url=url + "/v1", openai_api_key=LLM_KEY,
        ai_models_cache_seconds=0, knowledge_embedding_model=KNOWLEDGE_MODEL,
    )  # fmt: skip
    async with serve(settings.model_copy(update={"ai": ai})) as http:
        yield http


async def indexed_document(
    client: AppClient, owner: dict[str, str], assistant_id: str, name: str, text: str
) -> dict[str, Any]:
    upload = await client.post(
        "/api/v1/upload", files={"file": (name, text.encode(), "text/plain")}, headers=owner
    )
    assert upload.status_code == 201, upload.text
    added = await client.post(
        f"{ASSISTANTS}/{assistant_id}/documents", json={"file_id": upload.json()["id"]},
        headers=owner,
    )  # fmt: skip
    assert added.status_code == 202, added.text
    url = f"{ASSISTANTS}/{assistant_id}/documents/{added.json()['id']}"

    async def read() -> dict[str, Any]:
        response = await client.get(url, headers=owner)
        body: dict[str, Any] = response.json()
        return body

    return await eventually(read, lambda d: d["status"] != "indexing", "indexed")


def system_prompt(request: dict[str, Any]) -> str:
    return str(request["messages"][0]["content"])


async def test_answers_from_the_documents_and_hands_over_what_they_do_not_cover(
    client: AppClient, llm: FakeLLM, worker: Path
) -> None:
    _, owner, _, _ = await two_tenants(client)
    assistant = await create_assistant(client, owner, [])
    for name, text in (("hours.txt", HOURS), ("refunds.txt", REFUNDS)):
        document = await indexed_document(client, owner, assistant["id"], name, text)
        assert (document["status"], document["chunks"]) == ("ready", 1), document
    chats = [r for r in llm.requests if r["path"] in ("/api/chat", "/v1/chat/completions")]
    assert chats == []

    def decide(body: dict[str, Any]) -> dict[str, Any]:
        if UNCOVERED in system_prompt(body):
            return {"action": "handoff", "reason": "unsure", "summary": "Not in the documents."}
        return {"action": "reply", "text": "Monday to Friday, nine to five (see hours.txt)."}

    llm.tool_answer = decide
    test = f"{ASSISTANTS}/{assistant['id']}/test"
    response = await client.post(test, json={"message": "What are your opening hours?"},
                                 headers=owner)  # fmt: skip
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["action"], answer["reason"]) == ("reply", None)
    assert answer["text"] == "Monday to Friday, nine to five (see hours.txt)."
    assert [s["filename"] for s in answer["sources"]] == ["hours.txt"]
    assert answer["sources"][0]["text"] == HOURS and answer["sources"][0]["score"] > 0.35
    prompt = system_prompt(llm.requests[-1])
    assert f"[1] hours.txt: {HOURS}" in prompt and REFUNDS not in prompt

    # Nothing in the documents: the model is told so, and hands over.
    response = await client.post(test, json={"message": "Do you sell bicycles?"}, headers=owner)
    answer = response.json()
    assert (answer["action"], answer["reason"], answer["sources"]) == ("handoff", "unsure", [])
    assert answer["summary"] == "Not in the documents."
    assert UNCOVERED in system_prompt(llm.requests[-1])

    # Without the `when_unsure` rule the model is not told to hand over.
    patched = await client.patch(
        f"{ASSISTANTS}/{assistant['id']}", json={"handoff": {"when_unsure": False}},
        headers=owner,
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    response = await client.post(test, json={"message": "Do you sell bicycles?"}, headers=owner)
    assert response.json()["action"] == "reply"
    assert UNCOVERED not in system_prompt(llm.requests[-1])

    # The assistant deleted: its documents and passages with it.
    deleted = await client.delete(f"{ASSISTANTS}/{assistant['id']}", headers=owner)
    assert deleted.status_code == 204
    assert await KnowledgeChunkDocument.get_pymongo_collection().count_documents({}) == 0


async def test_the_test_route_sends_nothing_and_keeps_tenants_apart(
    client: AppClient, llm: FakeLLM
) -> None:
    acme, owner, _, other = await two_tenants(client)
    _, member = await signed_in(client, acme, owner, "max@example.com")
    assistant = await create_assistant(client, owner, [], handoff={"keywords": ["human"]})
    test = f"{ASSISTANTS}/{assistant['id']}/test"
    body = {"message": "I want a HUMAN now"}
    assert_problem(await client.post(test, json=body), 401, "unauthorized")
    assert_problem(await client.post(test, json=body, headers=member), 403, "forbidden")
    assert_problem(await client.post(test, json=body, headers=other), 404, "not_found")
    for bad in ({}, {"message": ""}, {"message": "x" * 4097}, {"message": "hi", "extra": 1}):
        response = await client.post(test, json=bad, headers=owner)
        assert response.status_code == 422, response.text
    # A keyword hands over before any model call.
    response = await client.post(test, json=body, headers=owner)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["action"], answer["reason"]) == ("handoff", "keyword")
    assert answer["usage"]["input_tokens"] == 0 and llm.requests == []
    # No documents: the model answers (the fake's default reply), with no sources.
    response = await client.post(test, json={"message": "Hello!"}, headers=owner)
    answer = response.json()
    assert (answer["action"], answer["text"], answer["sources"]) == ("reply", "Hello, world!", [])
    assert answer["usage"]["input_tokens"] > 0
    assert [r["path"] for r in llm.requests] == ["/api/chat"]  # no embeddings call either


async def test_a_customer_is_answered_from_the_documents(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM, worker: Path
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    assistant = await create_assistant(client, owner, [channel.id or ""])
    await indexed_document(client, owner, assistant["id"], "hours.txt", HOURS)

    def decide(body: dict[str, Any]) -> dict[str, Any]:
        prompt = system_prompt(body)
        if UNCOVERED in prompt:
            return {"action": "handoff", "reason": "unsure", "summary": "Asks about bikes."}
        if HOURS in prompt:
            return {"action": "reply", "text": "Nine to five, Monday to Friday (hours.txt)."}
        return {"action": "reply", "text": "I do not know."}

    llm.tool_answer = decide
    message = await writes(container, channel, "When is the shop open? Opening hours?")
    run = await run_of(acme, message.id)
    assert run["outcome"] == "replied"

    async def sent() -> list[str]:
        return sent_texts(graph)

    await eventually(sent, lambda t: t == ["Nine to five, Monday to Friday (hours.txt)."], "sent")

    other = await writes(container, channel, "Do you repair bicycles?", n=1)
    run = await run_of(acme, other.id)
    assert (run["outcome"], run["reason"]) == ("handed_off", "unsure")
    now = await conversation(client, owner, other.conversation_id)
    assert now["handled_by"] == "human"
