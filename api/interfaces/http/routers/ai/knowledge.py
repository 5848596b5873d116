"""An assistant's knowledge documents (`/api/v1/assistants/{id}/documents`,
`assistants:manage`): give it uploaded files, follow their indexing, replace and remove
them. Another tenant's assistant, document or file is 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.knowledge import (
    KnowledgeDocumentIn,
    KnowledgeDocumentListOut,
    KnowledgeDocumentOut,
)
from api.usecases.ai.knowledge_documents import (
    AddKnowledgeDocument,
    DeleteKnowledgeDocument,
    GetKnowledgeDocument,
    ListKnowledgeDocuments,
    ReplaceKnowledgeDocumentFile,
)

router = APIRouter(prefix="/assistants", tags=["assistants"])

Manager = Annotated[Principal, require(Permission.ASSISTANTS_MANAGE)]
INDEXING = (
    "The document is read from the file's storage, split into passages, embedded with "
    "`KNOWLEDGE_EMBEDDING_MODEL` and stored per tenant by a job; poll the document until "
    "`status` is `ready` (with `chunks`) or `failed` (with `error`: unreadable or empty "
    "file, more passages than allowed, a file deleted since, the provider refusing). "
    "Provider outages are retried with backoff first."
)


@router.post(
    "/{assistant_id}/documents",
    status_code=202,
    summary="Give an assistant a document",
    description=(
        "Needs `assistants:manage`. `file_id`: an uploaded PDF, DOCX, text, Markdown "
        "(`.md`) or CSV file; any other type is 422 `unsupported_document_type`, a file "
        "the assistant already has 409, a file or assistant of another tenant 404, no "
        "embeddings model configured (or the job queue down) 503. Answers 202 with "
        "`status: indexing`. " + INDEXING
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def add_document(
    assistant_id: str,
    body: KnowledgeDocumentIn,
    principal: Manager,
    use_case: Annotated[AddKnowledgeDocument, Inject(AddKnowledgeDocument)],
) -> KnowledgeDocumentOut:
    document = await use_case.execute(principal, assistant_id, body.file_id)
    return KnowledgeDocumentOut.of(document)


@router.get(
    "/{assistant_id}/documents",
    summary="An assistant's documents",
    description="Needs `assistants:manage`. Oldest first, each with its indexing status.",
    responses=problem_responses(401, 403, 404),
)
async def list_documents(
    assistant_id: str,
    principal: Manager,
    use_case: Annotated[ListKnowledgeDocuments, Inject(ListKnowledgeDocuments)],
) -> KnowledgeDocumentListOut:
    found = await use_case.execute(principal, assistant_id)
    return KnowledgeDocumentListOut(items=[KnowledgeDocumentOut.of(d) for d in found])


@router.get(
    "/{assistant_id}/documents/{document_id}",
    summary="One of an assistant's documents",
    description="Needs `assistants:manage`. " + INDEXING,
    responses=problem_responses(401, 403, 404),
)
async def get_document(
    assistant_id: str,
    document_id: str,
    principal: Manager,
    use_case: Annotated[GetKnowledgeDocument, Inject(GetKnowledgeDocument)],
) -> KnowledgeDocumentOut:
    return KnowledgeDocumentOut.of(await use_case.execute(principal, assistant_id, document_id))


@router.put(
    "/{assistant_id}/documents/{document_id}",
    status_code=202,
    summary="Put a new file on a document (re-index)",
    description=(
        "Needs `assistants:manage`. Stored files never change, so a document changes by "
        "being given a new `file_id` (a new upload of the edited file). It is indexed "
        "again as the document's next version; the passages of the current version keep "
        "answering until the new ones are ready, then they are replaced. A file with the "
        "same SHA-256 as the indexed one changes only the file id (nothing to re-index); "
        "a `failed` document is indexed again even with the same file. Same errors as "
        "`POST`."
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def replace_document(
    assistant_id: str,
    document_id: str,
    body: KnowledgeDocumentIn,
    principal: Manager,
    use_case: Annotated[ReplaceKnowledgeDocumentFile, Inject(ReplaceKnowledgeDocumentFile)],
) -> KnowledgeDocumentOut:
    document = await use_case.execute(principal, assistant_id, document_id, body.file_id)
    return KnowledgeDocumentOut.of(document)


@router.delete(
    "/{assistant_id}/documents/{document_id}",
    status_code=204,
    summary="Remove a document from an assistant",
    description=(
        "Needs `assistants:manage`. Its passages are deleted with it (the uploaded file "
        "itself stays: delete it with `DELETE /files/{id}`)."
    ),
    responses=problem_responses(401, 403, 404),
)
async def delete_document(
    assistant_id: str,
    document_id: str,
    principal: Manager,
    use_case: Annotated[DeleteKnowledgeDocument, Inject(DeleteKnowledgeDocument)],
) -> Response:
    await use_case.execute(principal, assistant_id, document_id)
    return Response(status_code=204)
