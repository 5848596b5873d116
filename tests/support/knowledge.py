"""The knowledge tests' helpers: a Parley with an embeddings model on the fake LLM server,
whose job queue only records (the indexing job is run by the test, in its tenant: the
session's Celery worker has no embeddings model), assistants made through the
repository, uploads, and the job and the search run as the worker and the replies do."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import httpx

from api.config import StorageSettings
from api.domain.ai.assistants import Assistant, AssistantRepository
from api.domain.ai.documents import DocumentStatus
from api.domain.ai.knowledge import KnowledgeChunk, KnowledgeSearch
from api.domain.jobs import JobQueue
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.ai.index_document import IndexKnowledgeDocument
from api.usecases.ai.knowledge_rules import INDEX_DOCUMENT_JOB
from api.usecases.kernel.clock import stored_now
from tests.fakes.jobs import FakeJobs
from tests.support.ai_stack import OLLAMA_MODEL, AiStack, Person, ai_settings, ai_stack
from tests.support.fake_llm import FakeLLM, serve_fake_llm

ASSISTANTS = "/api/v1/assistants"
OLLAMA_EMBEDDINGS = "nomic-embed-text"
OPENAI_EMBEDDINGS = "text-embedding-3-small"


@contextlib.asynccontextmanager
async def knowledge_stack(
    servers: tuple[str, str, str], blobs: Path, **ai: Any
) -> AsyncIterator[tuple[AiStack, FakeJobs]]:
    """A fake LLM server and Parley using it (embeddings: `nomic-embed-text` at Ollama
    unless `ai` says otherwise), its local blobs in `blobs`, its job queue a `FakeJobs`."""
    fake = FakeLLM()
    async with serve_fake_llm(fake) as url:
        options: dict[str, Any] = {
            "knowledge_embedding_model": OLLAMA_EMBEDDINGS,
            "knowledge_chunk_size": 300,
            "knowledge_chunk_overlap": 30,
        }
        mongo_url, redis_url, db_name = servers
        settings = ai_settings(mongo_url, redis_url, db_name, url, **(options | ai))
        settings = settings.model_copy(
            update={"storage": StorageSettings(_env_file=None, local_storage_dir=str(blobs))}
        )
        async with ai_stack(settings, fake, url) as stack:
            jobs = FakeJobs()
            stack.container.register(JobQueue, instance=jobs)
            stack.container._singletons.clear()  # use cases built again, with the fake queue
            yield stack, jobs


def fresh_knowledge(stack: AiStack, jobs: FakeJobs) -> tuple[AiStack, FakeJobs]:
    stack.fake.restore()
    stack.people.clear()
    jobs.queued.clear()
    jobs.down = False
    return stack, jobs


async def add_assistant(stack: AiStack, person: Person, name: str = "Ada") -> str:
    now = stored_now()
    assistants: AssistantRepository = stack.container.resolve(AssistantRepository)
    with tenant_context(TenantId(person.tenant_id)):
        added = await assistants.add(
            Assistant(name=name, model=OLLAMA_MODEL, created_at=now, updated_at=now)
        )
    assert added.id is not None
    return added.id


async def upload(http: httpx.AsyncClient, person: Person, name: str, data: bytes) -> str:
    response = await http.post(
        "/api/v1/upload", files={"file": (name, data, "application/octet-stream")},
        headers=person.headers,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return cast(str, response.json()["id"])


async def add_document(
    http: httpx.AsyncClient, person: Person, assistant_id: str, file_id: str
) -> dict[str, Any]:
    response = await http.post(
        f"{ASSISTANTS}/{assistant_id}/documents", json={"file_id": file_id},
        headers=person.headers,
    )  # fmt: skip
    assert response.status_code == 202, response.text
    return cast(dict[str, Any], response.json())


async def run_index_job(
    stack: AiStack, jobs: FakeJobs, person: Person, *, final_attempt: bool = True
) -> DocumentStatus | None:
    """Run the last queued indexing job as the worker would, in the tenant it was queued
    in (the test's person's)."""
    job, arguments = jobs.queued[-1]
    assert job == INDEX_DOCUMENT_JOB
    use_case: IndexKnowledgeDocument = stack.container.resolve(IndexKnowledgeDocument)
    with tenant_context(TenantId(person.tenant_id)):
        return await use_case.execute(
            str(arguments["document_id"]), int(arguments["generation"] or 0),
            final_attempt=final_attempt,
        )  # fmt: skip


async def search(
    stack: AiStack, person: Person, assistant_id: str, query: str, k: int = 3
) -> list[KnowledgeChunk]:
    knowledge: KnowledgeSearch = stack.container.resolve(KnowledgeSearch)
    with tenant_context(TenantId(person.tenant_id)):
        return await knowledge.search(assistant_id, query, k=k)


async def document(
    http: httpx.AsyncClient, person: Person, assistant_id: str, document_id: str
) -> dict[str, Any]:
    response = await http.get(
        f"{ASSISTANTS}/{assistant_id}/documents/{document_id}", headers=person.headers
    )
    assert response.status_code == 200, response.text
    return cast(dict[str, Any], response.json())
