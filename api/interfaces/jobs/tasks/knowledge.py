"""Assistants' knowledge tasks: index one generation of a document."""

from __future__ import annotations

import punq

from api.interfaces.jobs.base import is_last_attempt, parley_task
from api.usecases.ai.index_document import IndexKnowledgeDocument
from api.usecases.ai.knowledge_rules import INDEX_DOCUMENT_JOB


@parley_task(INDEX_DOCUMENT_JOB)
async def index_document(container: punq.Container, document_id: str, generation: int) -> str:
    """Parse, split, embed and store the document's passages (see `IndexKnowledgeDocument`);
    a provider that is down is retried with backoff, then the document fails."""
    use_case: IndexKnowledgeDocument = container.resolve(IndexKnowledgeDocument)
    status = await use_case.execute(document_id, generation, final_attempt=is_last_attempt())
    return status.value if status is not None else "skipped"
