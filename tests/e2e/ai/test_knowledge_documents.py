"""An assistant's knowledge end to end: documents given over HTTP (202 `indexing`), the
indexing job reading each file type from storage, splitting, embedding at the fake LLM
and storing per tenant; the right passage retrieved, never another tenant's; re-index on
a new file; deletion; failures with reasons; auth, isolation and bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from api.domain.ai.documents import DocumentStatus
from api.domain.ai.errors import ProviderUnavailable
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.ai.knowledge_index import KnowledgeChunkDocument
from api.usecases.ai.index_document import IndexKnowledgeDocument
from api.usecases.ai.knowledge_documents import RemoveAssistantKnowledge
from tests.fakes.jobs import FakeJobs
from tests.support.ai_stack import AiStack
from tests.support.app import assert_problem
from tests.support.documents import docx_bytes, pdf_bytes
from tests.support.files import PNG
from tests.support.knowledge import (
    ASSISTANTS,
    OPENAI_EMBEDDINGS,
    add_assistant,
    add_document,
    document,
    fresh_knowledge,
    knowledge_stack,
    run_index_job,
    search,
    upload,
)

HOURS = "Our shop opening hours are Monday to Friday from nine to five."
REFUNDS = "Refunds are possible within thirty days with the original receipt."
SHIPPING = "Parcels ship worldwide by courier within three working days."


@pytest.fixture(scope="module")
async def shared(
    mongo_url: str, redis_url: str, db_name: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[AiStack, FakeJobs]]:
    blobs = tmp_path_factory.mktemp("knowledge-blobs")
    async with knowledge_stack((mongo_url, redis_url, db_name), blobs) as running:
        yield running


@pytest.fixture
def kit(shared: tuple[AiStack, FakeJobs]) -> tuple[AiStack, FakeJobs]:
    return fresh_knowledge(*shared)


async def chunks_stored(**query: Any) -> int:
    collection = KnowledgeChunkDocument.get_pymongo_collection()
    return int(await collection.count_documents(query))


FILES = {
    "pdf": ("handbook.pdf", pdf_bytes(HOURS, REFUNDS + "\n" + SHIPPING), "pdf"),
    "docx": ("handbook.docx", docx_bytes(HOURS, REFUNDS, SHIPPING), "docx"),
    "text": ("handbook.txt", "\n\n".join([HOURS, REFUNDS, SHIPPING]).encode(), "text"),
    "markdown": (
        "handbook.md",
        f"# Hours\n\n{HOURS}\n\n# Refunds\n\n{REFUNDS}\n\n# Shipping\n\n{SHIPPING}\n".encode(),
        "markdown",
    ),
    "csv": (
        "faq.csv",
        f'topic,answer\nhours,"{HOURS}"\nrefunds,"{REFUNDS}"\nshipping,"{SHIPPING}"\n'.encode(),
        "csv",
    ),
}


@pytest.mark.parametrize("kind", list(FILES))
async def test_each_file_type_is_indexed_and_the_right_passage_found(
    kit: tuple[AiStack, FakeJobs], kind: str
) -> None:
    stack, jobs = kit
    owner = await stack.tenant("acme")
    assistant_id = await add_assistant(stack, owner)
    name, data, expected_kind = FILES[kind]
    file_id = await upload(stack.http, owner, name, data)
    # Paragraph-sized passages: each fact in its own passage.
    filler = ("Unrelated filler words about nothing in particular. " * 5).strip()
    if kind in ("text", "markdown"):
        data = data.replace(b"\n\n", f"\n\n{filler}\n\n".encode())
        file_id = await upload(stack.http, owner, "x-" + name, data)

    created = await add_document(stack.http, owner, assistant_id, file_id)
    assert created["status"] == "indexing" and created["chunks"] == 0
    assert (created["file_id"], created["filename"], created["kind"]) == (
        file_id, name if kind not in ("text", "markdown") else "x-" + name, expected_kind,
    )  # fmt: skip
    assert jobs.queued[-1][1] == {"document_id": created["id"], "generation": 1}

    assert await run_index_job(stack, jobs, owner) is DocumentStatus.READY
    ready = await document(stack.http, owner, assistant_id, created["id"])
    assert ready["status"] == "ready" and ready["error"] is None and ready["chunks"] >= 1
    assert ready["indexed_at"] is not None
    assert await chunks_stored(document_id=created["id"]) == ready["chunks"]

    hits = await search(stack, owner, assistant_id, "Can I get refunds with my receipt?", k=1)
    assert len(hits) == 1
    assert "Refunds are possible within thirty days" in hits[0].text
    assert (hits[0].document_id, hits[0].file_id) == (created["id"], file_id)
    assert hits[0].score > 0.3
    # The query was embedded at the fake Ollama server, like the passages.
    assert stack.fake.embedded[-1] == ["Can I get refunds with my receipt?"]


async def test_retrieval_never_finds_another_tenants_passages(
    kit: tuple[AiStack, FakeJobs],
) -> None:
    stack, jobs = kit
    acme, globex = await stack.tenant("acme"), await stack.tenant("globex")
    found: dict[str, tuple[str, str]] = {}
    for person, extra in ((acme, "Acme"), (globex, "Globex")):
        assistant_id = await add_assistant(stack, person)
        text = f"{HOURS}\n\nSigned {extra}."  # the same text in both tenants
        file_id = await upload(stack.http, person, "hours.txt", text.encode())
        created = await add_document(stack.http, person, assistant_id, file_id)
        assert await run_index_job(stack, jobs, person) is DocumentStatus.READY
        found[person.tenant_id] = (assistant_id, created["id"])
    for person in (acme, globex):
        assistant_id, document_id = found[person.tenant_id]
        hits = await search(stack, person, assistant_id, "opening hours of the shop", k=10)
        assert hits and {h.document_id for h in hits} == {document_id}
        other = found[(globex if person is acme else acme).tenant_id][0]
        assert await search(stack, person, other, "opening hours of the shop") == []


async def test_a_new_file_reindexes_and_replaces_the_passages(
    kit: tuple[AiStack, FakeJobs],
) -> None:
    stack, jobs = kit
    owner = await stack.tenant("acme")
    assistant_id = await add_assistant(stack, owner)
    first = await upload(stack.http, owner, "policy.txt", REFUNDS.encode())
    created = await add_document(stack.http, owner, assistant_id, first)
    await run_index_job(stack, jobs, owner)
    url = f"{ASSISTANTS}/{assistant_id}/documents/{created['id']}"

    second = await upload(stack.http, owner, "policy-v2.txt", SHIPPING.encode())
    response = await stack.http.put(url, json={"file_id": second}, headers=owner.headers)
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["status"], body["file_id"], body["filename"]) == (
        "indexing", second, "policy-v2.txt",
    )  # fmt: skip
    assert jobs.queued[-1][1] == {"document_id": created["id"], "generation": 2}
    # While the new version is indexed, the old one still answers.
    [hit] = await search(stack, owner, assistant_id, "refunds receipt", k=1)
    assert "Refunds" in hit.text and hit.file_id == first

    assert await run_index_job(stack, jobs, owner) is DocumentStatus.READY
    [hit] = await search(stack, owner, assistant_id, "refunds receipt", k=5)
    assert "Parcels ship" in hit.text and hit.file_id == second  # only the new passages
    assert await chunks_stored(document_id=created["id"]) == 1
    assert await chunks_stored(document_id=created["id"], generation=1) == 0

    # The same content again (a new upload of it): nothing to re-index.
    again = await upload(stack.http, owner, "policy-v3.txt", SHIPPING.encode())
    queued = len(jobs.queued)
    response = await stack.http.put(url, json={"file_id": again}, headers=owner.headers)
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["file_id"]) == ("ready", again)
    assert len(jobs.queued) == queued
    # A job queued for an older generation does nothing.
    with tenant_context(TenantId(owner.tenant_id)):
        use_case = stack.container.resolve(IndexKnowledgeDocument)
        assert await use_case.execute(created["id"], 1) is None
    assert (await document(stack.http, owner, assistant_id, created["id"]))["status"] == "ready"


async def test_deleting_a_document_removes_its_passages(kit: tuple[AiStack, FakeJobs]) -> None:
    stack, jobs = kit
    owner = await stack.tenant("acme")
    assistant_id = await add_assistant(stack, owner)
    ids = []
    for name, text in (("a.txt", HOURS), ("b.txt", REFUNDS)):
        created = await add_document(
            stack.http, owner, assistant_id, await upload(stack.http, owner, name, text.encode())
        )
        await run_index_job(stack, jobs, owner)
        ids.append(created["id"])
    url = f"{ASSISTANTS}/{assistant_id}/documents/{ids[0]}"
    response = await stack.http.delete(url, headers=owner.headers)
    assert response.status_code == 204, response.text
    assert await chunks_stored(document_id=ids[0]) == 0
    assert await chunks_stored(document_id=ids[1]) == 1
    assert_problem(await stack.http.get(url, headers=owner.headers), 404, "not_found")
    hits = await search(stack, owner, assistant_id, "shop opening hours", k=5)
    assert [h.document_id for h in hits] == [ids[1]]
    listed = await stack.http.get(f"{ASSISTANTS}/{assistant_id}/documents", headers=owner.headers)
    assert [d["id"] for d in listed.json()["items"]] == [ids[1]]
    # A deleted assistant takes its documents and passages with it.
    with tenant_context(TenantId(owner.tenant_id)):
        assert await stack.container.resolve(RemoveAssistantKnowledge).execute(assistant_id) == 1
    assert await chunks_stored() == 0


async def test_failures_are_reported_on_the_document(kit: tuple[AiStack, FakeJobs]) -> None:
    stack, jobs = kit
    owner = await stack.tenant("acme")
    assistant_id = await add_assistant(stack, owner)
    broken_pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"\x00\x01garbage" * 20  # sniffed as a PDF
    broken = await upload(stack.http, owner, "broken.pdf", broken_pdf)
    created = await add_document(stack.http, owner, assistant_id, broken)
    assert await run_index_job(stack, jobs, owner) is DocumentStatus.FAILED
    failed = await document(stack.http, owner, assistant_id, created["id"])
    assert failed["status"] == "failed" and "cannot be read as a PDF" in failed["error"]

    # A provider outage is retried (the job raises) until the last attempt fails it.
    fine = await upload(stack.http, owner, "hours.txt", HOURS.encode())
    created = await add_document(stack.http, owner, assistant_id, fine)
    stack.fake.embed_status = 503
    with pytest.raises(ProviderUnavailable):
        await run_index_job(stack, jobs, owner, final_attempt=False)
    assert (await document(stack.http, owner, assistant_id, created["id"]))["status"] == "indexing"
    assert await chunks_stored(document_id=created["id"]) == 0
    assert await run_index_job(stack, jobs, owner, final_attempt=True) is DocumentStatus.FAILED
    failed = await document(stack.http, owner, assistant_id, created["id"])
    assert failed["error"].startswith("The embeddings provider failed")
    # Putting the same file again indexes it again once the provider is back.
    stack.fake.embed_status = None
    url = f"{ASSISTANTS}/{assistant_id}/documents/{created['id']}"
    response = await stack.http.put(url, json={"file_id": fine}, headers=owner.headers)
    assert response.json()["status"] == "indexing"
    assert await run_index_job(stack, jobs, owner) is DocumentStatus.READY

    # The file deleted before the job ran.
    gone = await upload(stack.http, owner, "gone.txt", SHIPPING.encode())
    created = await add_document(stack.http, owner, assistant_id, gone)
    deleted = await stack.http.delete(f"/api/v1/files/{gone}", headers=owner.headers)
    assert deleted.status_code == 204
    assert await run_index_job(stack, jobs, owner) is DocumentStatus.FAILED
    failed = await document(stack.http, owner, assistant_id, created["id"])
    assert "no longer exists" in failed["error"]


async def test_auth_isolation_and_bad_input(kit: tuple[AiStack, FakeJobs]) -> None:
    stack, jobs = kit
    owner, other = await stack.tenant("acme"), await stack.tenant("globex")
    member = await stack.member(owner, "mia")
    assistant_id = await add_assistant(stack, owner)
    file_id = await upload(stack.http, owner, "hours.txt", HOURS.encode())
    created = await add_document(stack.http, owner, assistant_id, file_id)
    docs = f"{ASSISTANTS}/{assistant_id}/documents"
    one = f"{docs}/{created['id']}"
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", docs, {"file_id": file_id}), ("GET", docs, None), ("GET", one, None),
        ("PUT", one, {"file_id": file_id}), ("DELETE", one, None),
    ]  # fmt: skip
    for method, path, body in calls:
        response = await stack.http.request(method, path, json=body)
        assert_problem(response, 401, "unauthorized")
        response = await stack.http.request(method, path, json=body, headers=member.headers)
        assert_problem(response, 403, "forbidden")
        # Another tenant's assistant and document are 404, and nothing of them is shown.
        response = await stack.http.request(method, path, json=body, headers=other.headers)
        assert_problem(response, 404, "not_found")

    # Another tenant's file, an unknown assistant or document.
    theirs = await upload(stack.http, other, "hours.txt", HOURS.encode())
    assert_problem(
        await stack.http.post(docs, json={"file_id": theirs}, headers=owner.headers),
        404, "not_found",
    )  # fmt: skip
    for path in (f"{ASSISTANTS}/{'0' * 24}/documents", f"{ASSISTANTS}/nope/documents"):
        assert_problem(await stack.http.get(path, headers=owner.headers), 404, "not_found")
    assert_problem(await stack.http.get(f"{docs}/{'0' * 24}", headers=owner.headers), 404,
                   "not_found")  # fmt: skip
    other_assistant = await add_assistant(stack, owner, "Bob")
    assert_problem(
        await stack.http.get(f"{ASSISTANTS}/{other_assistant}/documents/{created['id']}",
                             headers=owner.headers), 404, "not_found",
    )  # fmt: skip

    # Not a document; the same file twice; malformed bodies.
    png = await upload(stack.http, owner, "logo.png", PNG + b"\x00" * 64)
    problem = assert_problem(
        await stack.http.post(docs, json={"file_id": png}, headers=owner.headers),
        422, "unsupported_document_type",
    )  # fmt: skip
    assert "image/png" in problem["detail"]
    assert_problem(
        await stack.http.post(docs, json={"file_id": file_id}, headers=owner.headers),
        409, "conflict",
    )  # fmt: skip
    for body in ({}, {"file_id": ""}, {"file_id": "x" * 65}, {"file_id": file_id, "extra": 1}):
        response = await stack.http.post(docs, json=body, headers=owner.headers)
        assert response.status_code == 422, response.text
    # A broker that is down: 503, and the document is not kept.
    jobs.down = True
    second = await upload(stack.http, owner, "refunds.txt", REFUNDS.encode())
    assert_problem(
        await stack.http.post(docs, json={"file_id": second}, headers=owner.headers),
        503, "service_unavailable",
    )  # fmt: skip
    listed = await stack.http.get(docs, headers=owner.headers)
    assert [d["id"] for d in listed.json()["items"]] == [created["id"]]
    # Putting a file then: 503, and the document says its indexing was never queued.
    assert_problem(
        await stack.http.put(one, json={"file_id": second}, headers=owner.headers),
        503, "service_unavailable",
    )  # fmt: skip
    failed = await document(stack.http, owner, assistant_id, created["id"])
    assert (failed["status"], failed["file_id"]) == ("failed", second)
    assert "could not be queued" in failed["error"]


async def test_openai_compatible_embeddings(
    mongo_url: str, redis_url: str, db_name: str, tmp_path: Any
) -> None:
    async with knowledge_stack(
        (mongo_url, redis_url, db_name), tmp_path, knowledge_embedding_provider="openai",
        knowledge_embedding_model=OPENAI_EMBEDDINGS,
    ) as (stack, jobs):  # fmt: skip
        stack.fake.api_key = "sk-test-secret-key-0123456789"  # the stack's OPENAI_API_KEY
        owner = await stack.tenant("acme")
        assistant_id = await add_assistant(stack, owner)
        text = "\n\n".join([HOURS, "x " * 200, REFUNDS])
        file_id = await upload(stack.http, owner, "faq.txt", text.encode())
        await add_document(stack.http, owner, assistant_id, file_id)
        assert await run_index_job(stack, jobs, owner) is DocumentStatus.READY
        [hit] = await search(stack, owner, assistant_id, "refunds with receipt", k=1)
        assert "Refunds are possible" in hit.text
        assert {r["path"] for r in stack.fake.requests} == {"/v1/embeddings"}


async def test_without_an_embeddings_model_documents_are_refused(
    mongo_url: str, redis_url: str, db_name: str, tmp_path: Any
) -> None:
    async with knowledge_stack(
        (mongo_url, redis_url, db_name), tmp_path, knowledge_embedding_model=None
    ) as (stack, _):
        owner = await stack.tenant("acme")
        assistant_id = await add_assistant(stack, owner)
        file_id = await upload(stack.http, owner, "hours.txt", HOURS.encode())
        response = await stack.http.post(
            f"{ASSISTANTS}/{assistant_id}/documents", json={"file_id": file_id},
            headers=owner.headers,
        )  # fmt: skip
        assert_problem(response, 503, "knowledge_unavailable")
        assert await search(stack, owner, assistant_id, "opening hours") == []
