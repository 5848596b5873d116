"""A document as stored, by pydantic's own dump where that gives what Beanie's encoder gives.

Beanie's `get_dict(document, to_db=True)` passes every value through its generic `Encoder`
(a chain of type checks per value, in Python): ~34 µs for an AI message on our machines,
where pydantic's `model_dump(by_alias=True)` (in Rust) takes ~4 µs. The two give the same
dict, keys, values and their types, when a document class can only hold what the encoder
keeps as it is: strings, integers, floats, booleans, None, datetimes, ObjectIds, enums that
are strings or integers, lists of those and nested models made only of the same, with no
revision, class id, link, custom BSON encoder, extra fields, serializer, computed field or
serialization alias. `stored_dict` checks a class once, and every other class (or a
document without an id) keeps Beanie's encoder. tests/integration/kernel/test_stored.py
compares what both store, field by field and type by type.
"""

from __future__ import annotations

import enum
import types
import typing
from datetime import datetime
from typing import Any

from beanie import Document
from beanie.odm.utils.dump import get_dict
from bson import ObjectId
from pydantic import BaseModel

_KEPT_AS_IS = (str, int, float, bool, datetime, ObjectId, type(None))


def _plain_model(model: type[BaseModel]) -> bool:
    """A model whose dump is its fields' values, under their aliases."""
    decorators = model.__pydantic_decorators__
    if decorators.field_serializers or decorators.model_serializers:
        return False
    if decorators.computed_fields or model.model_config.get("extra") == "allow":
        return False
    for field in model.model_fields.values():
        if field.serialization_alias not in (None, field.alias):
            return False
        if not field.exclude and not _plain_type(field.annotation):
            return False
    return True


def _plain_type(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return all(_plain_type(arg) for arg in typing.get_args(annotation))
    if origin is list:
        return all(_plain_type(arg) for arg in typing.get_args(annotation))
    if origin is not None or not isinstance(annotation, type):
        return False  # dicts, tuples, sets, Literal, Annotated, ...: the encoder's way
    if issubclass(annotation, enum.Enum):
        return issubclass(annotation, (str, int))  # kept as they are, not as `.value`
    if issubclass(annotation, BaseModel):
        # The declared model exactly: the encoder walks the instance's own fields, a dump
        # the declared model's (a subclass's instance could differ).
        return annotation.__subclasses__() == [] and _plain_model(annotation)
    return issubclass(annotation, _KEPT_AS_IS)


def dumps_plainly(document_class: type[Document]) -> bool:
    """Whether `model_dump(by_alias=True)` stores `document_class` as Beanie does."""
    plain = _PLAIN.get(document_class)
    if plain is None:
        plain = _PLAIN[document_class] = _dumps_plainly(document_class)
    return plain


_PLAIN: dict[type[Document], bool] = {}


def _dumps_plainly(document_class: type[Document]) -> bool:
    settings = document_class.get_settings()
    if settings.use_revision or settings.union_doc is not None or settings.bson_encoders:
        return False
    if document_class.get_link_fields() or getattr(document_class, "_class_id", None):
        return False
    return _plain_model(document_class)


def stored_dict(document: Document) -> dict[str, Any]:
    """`document` as Beanie's `get_dict(document, to_db=True)` stores it."""
    keep_nulls = document.get_settings().keep_nulls
    if document.id is not None and dumps_plainly(type(document)):
        dumped: dict[str, Any] = document.model_dump(by_alias=True, exclude_none=not keep_nulls)
        return dumped
    stored: dict[str, Any] = get_dict(document, to_db=True, keep_nulls=keep_nulls)
    return stored
