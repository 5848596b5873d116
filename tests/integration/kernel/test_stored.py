"""`stored_dict` (pydantic's dump for the document classes it finds plain) stores exactly
what Beanie's encoder stores: for every such class of the app, with sample values of every
field (set and unset), the same dict, the same type for every value at every level, and
the same BSON bytes; the AI documents of an ask read back from a real Mongo-wire server
field by field alike; classes that hold anything else keep Beanie's encoder."""

from __future__ import annotations

import enum
import types
import typing
from datetime import UTC, datetime
from typing import Any

import bson
import pytest
from beanie import PydanticObjectId
from beanie.odm.utils.dump import get_dict
from bson import ObjectId
from pydantic import BaseModel

from api.domain.ai.values import FinishReason, Provider, Speaker, TokenUsage
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.ai.conversations import AiConversationDocument
from api.infrastructure.persistence.ai.messages import AiMessageDocument
from api.infrastructure.persistence.base.documents import DOCUMENT_MODELS
from api.infrastructure.persistence.base.scoped import TenantScopedRepository
from api.infrastructure.persistence.base.stored import dumps_plainly, stored_dict
from api.infrastructure.persistence.base.writes import InsertOp

AT = datetime(2026, 12, 7, 9, 30, 15, 123456, tzinfo=UTC)


def sample(annotation: Any, filled: bool) -> Any:
    """A value of `annotation`; with `filled` False, optional fields are None."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if type(None) in args and not filled:
            return None
        return sample(next(a for a in args if a is not type(None)), filled)
    if origin is list:
        (item,) = typing.get_args(annotation)
        return [sample(item, filled), sample(item, filled)]
    if issubclass(annotation, enum.Enum):
        return list(annotation)[-1]
    if issubclass(annotation, BaseModel):
        return annotation.model_construct(**fields_of(annotation, filled))
    if issubclass(annotation, ObjectId):
        return annotation()
    return {bool: True, int: 42, float: 1.5, str: "text", datetime: AT}[annotation]


def fields_of(model: type[BaseModel], filled: bool) -> dict[str, Any]:
    return {
        name: sample(field.annotation, filled)
        for name, field in model.model_fields.items()
        if not field.exclude
    }


def same_types(left: Any, right: Any, where: str) -> None:
    assert type(left) is type(right), where
    if isinstance(left, dict):
        assert list(left) == list(right), where
        for key in left:
            same_types(left[key], right[key], f"{where}.{key}")
    elif isinstance(left, list):
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            same_types(a, b, f"{where}[{i}]")


@pytest.mark.parametrize("filled", [True, False])
async def test_every_plain_class_is_stored_as_beanie_stores_it(filled: bool) -> None:
    plain = [c for c in DOCUMENT_MODELS if dumps_plainly(c)]
    assert AiMessageDocument in plain and AiConversationDocument in plain
    for document_class in plain:
        # An id of the class's own type (a session's is a string).
        values = {**fields_of(document_class, filled), "id": sample(_id_type(document_class), True)}
        document = document_class.model_construct(**values)
        keep_nulls = document.get_settings().keep_nulls
        beanie = get_dict(document, to_db=True, keep_nulls=keep_nulls)
        ours = stored_dict(document)
        assert ours == beanie, document_class.__name__
        same_types(ours, beanie, document_class.__name__)
        assert bson.encode(ours) == bson.encode(beanie), document_class.__name__


def _id_type(document_class: type[Any]) -> Any:
    return document_class.model_fields["id"].annotation


async def test_classes_holding_anything_else_keep_beanies_encoder() -> None:
    kept = {c.__name__ for c in DOCUMENT_MODELS if not dumps_plainly(c)}
    # A dict of settings, a tuple, a revision, ...: e.g. the quota day and the audit entry.
    assert {"QuotaDayDocument", "AuditEntryDocument"} <= kept


async def test_an_asks_documents_read_back_alike() -> None:
    """The question, the reply and the conversation, stored by the repository (our dump)
    and by Beanie's encoder, read back from the server field by field, types included."""
    with tenant_context(TenantId("t" * 24)):
        for document in (
            AiMessageDocument(
                conversation_id="c1", user_id="u1", role=Speaker.USER, content="Hi",
                model="llama3", provider=Provider.OLLAMA, created_at=AT,
            ),
            AiMessageDocument(
                conversation_id="c1", user_id="u1", role=Speaker.ASSISTANT, content="Hello",
                model="gpt", provider=Provider.OPENAI, partial=True,
                finish_reason=FinishReason.DISCONNECTED,
                usage=TokenUsage(input_tokens=3, output_tokens=2, estimated=True),
                created_at=AT,
            ),
            AiConversationDocument(
                user_id="u1", title="Hi", model="llama3", provider=Provider.OLLAMA,
                message_count=2, created_at=AT, updated_at=AT,
            ),
        ):  # fmt: skip
            repository: TenantScopedRepository[Any] = TenantScopedRepository(type(document))
            await repository.bulk_write([InsertOp(document)])
            ours = await type(document).get_pymongo_collection().find_one({"_id": document.id})
            theirs_doc = document.model_copy()
            theirs_doc.id = PydanticObjectId()
            theirs = get_dict(theirs_doc, to_db=True, keep_nulls=document.get_settings().keep_nulls)
            await type(document).get_pymongo_collection().insert_one(theirs)
            read = await type(document).get_pymongo_collection().find_one({"_id": theirs_doc.id})
            assert ours is not None and read is not None
            ours.pop("_id"), read.pop("_id")
            assert ours == read
            same_types(ours, read, type(document).__name__)
