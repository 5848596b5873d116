"""The rules knowledge's use cases share: the indexing job's name, the deployment's
knowledge policy, and finding the assistant a document belongs to."""

from __future__ import annotations

from dataclasses import dataclass

from api.domain.ai.assistants import Assistant, AssistantRepository
from api.domain.ai.documents import KnowledgeDocument, KnowledgeDocumentRepository
from api.domain.errors import NotFound

INDEX_DOCUMENT_JOB = "parley.assistants.index_document"
ASSISTANT_NOT_FOUND = "No such assistant."
DOCUMENT_NOT_FOUND = "No such document."


@dataclass(frozen=True)
class KnowledgePolicy:
    """From settings: how many passages embed per provider call, how many a question
    gets, and the least cosine similarity that counts as the documents covering it."""

    embed_batch: int = 64
    top_k: int = 4
    min_score: float = 0.35


async def assistant_of_tenant(assistants: AssistantRepository, assistant_id: str) -> Assistant:
    """The current tenant's assistant; another tenant's (or none) is 404."""
    assistant = await assistants.get(assistant_id)
    if assistant is None:
        raise NotFound(ASSISTANT_NOT_FOUND)
    return assistant


async def document_of_assistant(
    documents: KnowledgeDocumentRepository, assistant_id: str, document_id: str
) -> KnowledgeDocument:
    """The assistant's document; one of another assistant or tenant (or none) is 404."""
    document = await documents.get(document_id)
    if document is None or document.assistant_id != assistant_id:
        raise NotFound(DOCUMENT_NOT_FOUND)
    return document
