"""Assistants' knowledge on a real Mongo-wire server: passages stored with float32
vectors, found by exact cosine (the server has no vector search) among the live
generations only, with bounded batches, never across tenants or assistants; deleted by
generation, document and assistant; and the documents' conditional writes."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from api.domain.ai.documents import (
    DocumentKind,
    DocumentStatus,
    IndexedChunk,
    KnowledgeDocument,
    SourceFile,
)
from api.domain.errors import Conflict, TenantRequired
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.ai.knowledge import BeanieKnowledgeDocumentRepository
from api.infrastructure.persistence.ai.knowledge_index import (
    SCAN_BATCH,
    KnowledgeChunkDocument,
    MongoChunkIndex,
)

TENANT_A = TenantId("a" * 24)
TENANT_B = TenantId("b" * 24)
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def unit(*values: float) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def chunk(
    text: str,
    vector: list[float],
    *,
    document: str = "d1",
    generation: int = 1,
    assistant: str = "as1",
    seq: int = 0,
) -> IndexedChunk:
    return IndexedChunk(
        assistant_id=assistant, document_id=document, file_id=f"f-{document}",
        filename=f"{document}.txt", generation=generation, seq=seq, text=text, vector=vector,
    )  # fmt: skip


@pytest.fixture
def index() -> MongoChunkIndex:
    return MongoChunkIndex("knowledge_vectors")


async def stored() -> int:
    return int(await KnowledgeChunkDocument.get_pymongo_collection().count_documents({}))


async def test_nearest_by_cosine_among_live_generations(index: MongoChunkIndex) -> None:
    with tenant_context(TENANT_A):
        await index.add(
            [
                chunk("hours", unit(1, 0, 0)),
                chunk("refunds", unit(0, 1, 0), seq=1),
                chunk("hours and refunds", unit(1, 1, 0), seq=2),
                chunk("old hours", unit(1, 0, 0), generation=2, document="d2"),
                chunk("new shipping", unit(0, 0, 1), generation=3, document="d2"),
            ]
        )
        hits = await index.nearest("as1", [2, 0.1, 0], live={"d1": 1, "d2": 3}, k=2)
        assert [h.text for h in hits] == ["hours", "hours and refunds"]
        assert hits[0].score == pytest.approx(2 / math.sqrt(4.01), rel=1e-5)
        assert (hits[0].document_id, hits[0].file_id, hits[0].filename) == ("d1", "f-d1", "d1.txt")
        # d2's generation 2 is not live: its passage is never found.
        hits = await index.nearest("as1", [1, 0, 0], live={"d2": 3}, k=5)
        assert [h.text for h in hits] == ["new shipping"]
        assert hits[0].score == pytest.approx(0.0, abs=1e-6)
        assert await index.nearest("as1", [1, 0, 0], live={}, k=3) == []
        assert await index.nearest("as1", [0, 0, 0], live={"d1": 1}, k=3) == []
        assert await index.nearest("as1", [1, 0], live={"d1": 1}, k=3) == []  # other model


async def test_many_passages_are_scanned_in_batches(index: MongoChunkIndex) -> None:
    count = SCAN_BATCH * 2 + 17
    with tenant_context(TENANT_A):
        await index.add([chunk(f"p{i}", unit(1, i / count, 0), seq=i) for i in range(count)])
        hits = await index.nearest("as1", [1, 0, 0], live={"d1": 1}, k=3)
        assert [h.text for h in hits] == ["p0", "p1", "p2"]
        hits = await index.nearest("as1", [0, 1, 0], live={"d1": 1}, k=2)
        assert [h.text for h in hits] == [f"p{count - 1}", f"p{count - 2}"]


async def test_never_another_tenants_or_assistants_passages(index: MongoChunkIndex) -> None:
    with tenant_context(TENANT_A):
        await index.add([chunk("same text", unit(1, 0)), chunk("x", unit(0, 1), assistant="as2")])
    with tenant_context(TENANT_B):
        await index.add([chunk("same text", unit(1, 0.5))])  # same ids, a little further
        hits = await index.nearest("as1", [1, 0], live={"d1": 1}, k=1)
        assert [h.text for h in hits] == ["same text"]
        assert hits[0].score == pytest.approx(1 / math.sqrt(1.25), rel=1e-5)  # B's own
        raw = await KnowledgeChunkDocument.get_pymongo_collection().find_one(
            {"tenant_id": TENANT_B}
        )
        assert raw is not None and raw["vector"].subtype == 9  # a BSON float32 vector
    with tenant_context(TENANT_A):
        hits = await index.nearest("as1", [1, 1], live={"d1": 1}, k=10)
        assert [h.text for h in hits] == ["same text"]  # not as2's, not tenant B's
        assert await index.delete_assistant("as1") == 1
    assert await stored() == 2
    with pytest.raises(TenantRequired):
        await index.nearest("as1", [1, 0], live={"d1": 1}, k=1)


async def test_deleting_by_generation_document_and_assistant(index: MongoChunkIndex) -> None:
    with tenant_context(TENANT_A):
        await index.add(
            [
                chunk("g1", unit(1, 0), generation=1),
                chunk("g2", unit(1, 0), generation=2),
                chunk("g3", unit(1, 0), generation=3),
                chunk("other", unit(1, 0), document="d2"),
            ]
        )
        assert await index.drop_older("d1", 3) == 2
        assert await index.drop_generation("d1", 3) == 1
        assert await index.delete_document("d2") == 1
    assert await stored() == 0


async def test_the_server_reports_no_vector_search(index: MongoChunkIndex) -> None:
    with tenant_context(TENANT_A):
        await index.add([chunk("hours", unit(1, 0))])
        assert await index._has_vector_search() is False  # SecantusDB refuses the probe
        assert [h.text for h in await index.nearest("as1", [1, 0], live={"d1": 1}, k=1)] == [
            "hours"
        ]


def document(file_id: str = "f1") -> KnowledgeDocument:
    return KnowledgeDocument(
        assistant_id="as1", file_id=file_id, filename="a.txt", content_type="text/plain",
        kind=DocumentKind.TEXT, size=10, sha256="0" * 64, created_at=T0, updated_at=T0,
    )  # fmt: skip


async def test_documents_settle_only_their_own_generation() -> None:
    repo = BeanieKnowledgeDocumentRepository()
    with tenant_context(TENANT_A):
        added = await repo.add(document())
        assert added.id is not None
        with pytest.raises(Conflict):
            await repo.add(document())  # the same file twice for one assistant
        assert await repo.searchable("as1", "m") == []
        assert await repo.finish(added.id, 1, chunks=3, embedding_model="m", at=T0)
        [live] = await repo.searchable("as1", "m")
        assert (live.status, live.live_generation, live.chunks) == (DocumentStatus.READY, 1, 3)
        assert await repo.searchable("as1", "other-model") == []
        new_file = SourceFile("f2", "b.md", "text/plain", 5, "1" * 64)
        moved = await repo.put_file(added.id, new_file, reindex=True, at=T0)
        assert moved is not None
        assert (moved.generation, moved.status, moved.kind) == (
            2, DocumentStatus.INDEXING, DocumentKind.MARKDOWN,
        )  # fmt: skip
        assert [d.live_generation for d in await repo.searchable("as1", "m")] == [1]
        assert not await repo.finish(added.id, 1, chunks=1, embedding_model="m", at=T0)
        assert await repo.fail(added.id, 2, error="broken", at=T0)
        assert await repo.searchable("as1", "m") == []
    with tenant_context(TENANT_B):
        assert await repo.get(added.id) is None
        assert await repo.delete_for("as1") == []
    with tenant_context(TENANT_A):
        assert await repo.delete_for("as1") == [added.id]
