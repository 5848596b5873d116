"""Assistants' knowledge passages with their vectors (`knowledge_chunks`), per tenant, and
the search over them (the `ChunkIndex` port).

Vectors are stored as BSON float32 vectors (BinData subtype 9), the type MongoDB's vector
search indexes read. A search asks the server whether the collection has a queryable
vector search index named `KNOWLEDGE_VECTOR_INDEX` (`$listSearchIndexes`, asked again
every `PROBE_SECONDS`); with one it runs `$vectorSearch` (filtered on the tenant, the
assistant and the live documents), else, as on servers without vector search
(SecantusDB, MongoDB without mongot), an exact cosine search: the assistant's vectors
are streamed from a cursor in batches of `SCAN_BATCH`, scored with numpy, and only the
best `k` are kept (a heap), so memory stays bounded whatever the number of passages;
their texts are read afterwards in one query. Scores are cosine similarities in [-1, 1]
on both paths (`$vectorSearch`'s cosine score, (1 + cos) / 2, is mapped back).

The index definition for `$vectorSearch` (Atlas, or MongoDB 8.2+ with mongot):
`{"fields": [{"type": "vector", "path": "vector", "numDimensions": <the model's>,
"similarity": "cosine"}, {"type": "filter", "path": "tenant_id"}, {"type": "filter",
"path": "assistant_id"}, {"type": "filter", "path": "document_id"}]}`.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from bson import Binary, ObjectId
from bson.binary import BinaryVectorDtype
from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

from api.domain.ai.documents import ChunkHit, IndexedChunk
from api.domain.tenancy import current_tenant
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    tenant_first,
)

log = logging.getLogger(__name__)

SCAN_BATCH = 256
PROBE_SECONDS = 300.0
_VECTOR_HEADER = 2  # a BSON vector's dtype and padding bytes, before the values
_PROJECTION = {"document_id": 1, "generation": 1, "vector": 1}

_HIT_FIELDS = {"document_id": 1, "file_id": 1, "filename": 1, "text": 1}

Row = tuple[float, int, str]  # score, tie-breaker (scan order), chunk id


def _hit(raw: Mapping[str, Any], score: float) -> ChunkHit:
    return ChunkHit(
        document_id=raw["document_id"],
        file_id=raw["file_id"],
        filename=raw["filename"],
        text=raw["text"],
        score=score,
    )


class KnowledgeChunkDocument(TenantOwnedDocument):
    assistant_id: str
    document_id: str
    file_id: str
    filename: str
    generation: int
    seq: int
    text: str
    vector: Any  # a BSON float32 vector, written and read by `MongoChunkIndex` only

    class Settings:
        name = "knowledge_chunks"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("assistant_id", 1), ("document_id", 1), ("generation", 1)],
                name="tenant_assistant_document",
            ),
            IndexModel(
                [(TENANT_FIELD, 1), ("document_id", 1), ("generation", 1)],
                name="tenant_document",
            ),
        ]


def _as_array(value: Any) -> np.ndarray[Any, np.dtype[np.float32]] | None:
    if isinstance(value, Binary) and value.subtype == 9:
        return np.frombuffer(bytes(value), dtype="<f4", offset=_VECTOR_HEADER)
    if isinstance(value, list):  # written by another tool as an array of numbers
        return np.asarray(value, dtype=np.float32)
    return None


class MongoChunkIndex:
    """`ChunkIndex` adapter, within the current tenant (fail closed)."""

    def __init__(self, vector_index: str) -> None:
        self._scoped = TenantScopedRepository(KnowledgeChunkDocument)
        self._vector_index = vector_index
        self._probed_at = float("-inf")
        self._vector_search = False

    def _collection(self) -> AsyncCollection[dict[str, Any]]:
        return KnowledgeChunkDocument.get_pymongo_collection()

    async def add(self, chunks: Sequence[IndexedChunk]) -> None:
        tenant_id = current_tenant()
        if not chunks:
            return
        rows = [
            {
                TENANT_FIELD: tenant_id,
                "assistant_id": chunk.assistant_id,
                "document_id": chunk.document_id,
                "file_id": chunk.file_id,
                "filename": chunk.filename,
                "generation": chunk.generation,
                "seq": chunk.seq,
                "text": chunk.text,
                "vector": Binary.from_vector(
                    [float(v) for v in chunk.vector], BinaryVectorDtype.FLOAT32
                ),
            }
            for chunk in chunks
        ]
        with database_errors():
            await self._collection().insert_many(rows, ordered=False)

    async def nearest(
        self, assistant_id: str, vector: Sequence[float], *, live: Mapping[str, int], k: int
    ) -> list[ChunkHit]:
        query = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(query))
        if not live or k < 1 or norm == 0.0:
            return []
        query /= norm
        if await self._has_vector_search():
            try:
                return await self._vector_nearest(assistant_id, query, live, k)
            except OperationFailure as exc:
                log.warning("$vectorSearch failed (%s); searching exactly", exc.code)
                self._vector_search = False
        return await self._exact_nearest(assistant_id, query, live, k)

    async def _exact_nearest(
        self,
        assistant_id: str,
        query: np.ndarray[Any, np.dtype[np.float32]],
        live: Mapping[str, int],
        k: int,
    ) -> list[ChunkHit]:
        best: list[Row] = []
        seen = 0
        batch_ids: list[ObjectId] = []
        batch_vectors: list[np.ndarray[Any, np.dtype[np.float32]]] = []

        def score_batch() -> None:
            nonlocal seen
            matrix = np.stack(batch_vectors)
            norms = np.linalg.norm(matrix, axis=1)
            norms[norms == 0] = 1.0
            scores = (matrix @ query) / norms
            # Only a batch's own best k can enter the top k.
            picked = np.argpartition(-scores, k - 1)[:k] if len(scores) > k else range(len(scores))
            for index in picked:
                row = (float(scores[index]), -(seen + int(index)), str(batch_ids[index]))
                if len(best) < k:
                    heapq.heappush(best, row)
                elif row > best[0]:
                    heapq.heapreplace(best, row)
            seen += len(batch_ids)
            batch_ids.clear()
            batch_vectors.clear()

        scope = tenant_first(assistant_id=assistant_id, document_id={"$in": sorted(live)})
        with database_errors():
            cursor = self._collection().find(scope, _PROJECTION, batch_size=SCAN_BATCH)
            async for raw in cursor:
                if live.get(raw.get("document_id", "")) != raw.get("generation"):
                    continue  # another generation: being indexed, or about to be dropped
                array = _as_array(raw.get("vector"))
                if array is None or array.shape != query.shape:
                    continue
                batch_ids.append(raw["_id"])
                batch_vectors.append(array)
                if len(batch_ids) >= SCAN_BATCH:
                    score_batch()
        if batch_ids:
            score_batch()
        ranked = sorted(best, reverse=True)
        return await self._texts([(chunk_id, score) for score, _, chunk_id in ranked])

    async def _texts(self, ranked: list[tuple[str, float]]) -> list[ChunkHit]:
        if not ranked:
            return []
        ids = [ObjectId(chunk_id) for chunk_id, _ in ranked]
        with database_errors():
            cursor = self._collection().find(self._scoped.scope({"_id": {"$in": ids}}), _HIT_FIELDS)
            found = {str(raw["_id"]): raw async for raw in cursor}
        return [_hit(found[i], score) for i, score in ranked if i in found]

    async def _has_vector_search(self) -> bool:
        """Whether the collection has a queryable vector search index (asked again every
        `PROBE_SECONDS`; a server without search answers the probe with an error)."""
        now = time.monotonic()
        if now - self._probed_at < PROBE_SECONDS:
            return self._vector_search
        self._probed_at = now
        try:
            with database_errors():
                cursor = await self._collection().list_search_indexes(self._vector_index)
                indexes = await cursor.to_list()
        except OperationFailure:
            self._vector_search = False
            return False
        self._vector_search = any(
            index.get("type") == "vectorSearch" and index.get("queryable") is True
            for index in indexes
        )
        return self._vector_search

    async def _vector_nearest(
        self,
        assistant_id: str,
        query: np.ndarray[Any, np.dtype[np.float32]],
        live: Mapping[str, int],
        k: int,
    ) -> list[ChunkHit]:
        tenant_id = current_tenant()
        pipeline: list[dict[str, Any]] = [
            {
                "$vectorSearch": {
                    "index": self._vector_index,
                    "path": "vector",
                    "queryVector": query.tolist(),
                    "numCandidates": max(100, k * 20),
                    "limit": k * 4,  # room for passages of a generation not live
                    "filter": {
                        TENANT_FIELD: tenant_id,
                        "assistant_id": assistant_id,
                        "document_id": {"$in": sorted(live)},
                    },
                }
            },
            {"$match": {TENANT_FIELD: tenant_id}},  # fail closed, whatever the index does
            {
                "$project": {
                    **_HIT_FIELDS,
                    "generation": 1,
                    "score": {"$meta": "vectorSearchScore"},
                }
            },
        ]
        with database_errors():
            cursor = await self._collection().aggregate(pipeline)
            rows = [raw async for raw in cursor]
        hits = [
            _hit(raw, 2 * float(raw["score"]) - 1)
            for raw in rows
            if live.get(raw["document_id"]) == raw.get("generation")
        ]
        return hits[:k]

    async def drop_generation(self, document_id: str, generation: int) -> int:
        return await self._scoped.delete_many(
            tenant_first(document_id=document_id, generation=generation)
        )

    async def drop_older(self, document_id: str, generation: int) -> int:
        return await self._scoped.delete_many(
            tenant_first(document_id=document_id, generation={"$lt": generation})
        )

    async def delete_document(self, document_id: str) -> int:
        return await self._scoped.delete_many(tenant_first(document_id=document_id))

    async def delete_assistant(self, assistant_id: str) -> int:
        return await self._scoped.delete_many(tenant_first(assistant_id=assistant_id))
