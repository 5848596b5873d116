"""Write building blocks of the scoped repository: update checks, bulk operations, errors.

The bulk operations are plain values that name no tenant; `TenantScopedRepository.
bulk_write` turns them into driver requests through its own `scope` (each filter) and
`stamp` (each insert), here in `bulk_requests`. They are our own types rather than
PyMongo's `InsertOne`/`UpdateOne`/..., whose filters can only be read through private
attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from beanie import Document
from pymongo import DeleteMany, DeleteOne, InsertOne, UpdateMany, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError
from pymongo.results import BulkWriteResult

from api.domain.errors import Conflict
from api.infrastructure.persistence.base.mongo import database_errors

TENANT_FIELD = "tenant_id"
_FIXED_FIELDS = frozenset({TENANT_FIELD, "_id"})
_DUPLICATE_KEY = 11000

Filter = Mapping[str, Any]
Update = Mapping[str, Mapping[str, Any]]  # update operators: {"$set": {...}, "$inc": {...}}
Request = InsertOne[dict[str, Any]] | UpdateOne | UpdateMany | DeleteOne | DeleteMany


@dataclass(frozen=True)
class InsertOp:
    """Insert `document` (stamped with the current tenant)."""

    document: Document


@dataclass(frozen=True)
class UpdateOp:
    """Apply update operators to the first (or, with `many`, every) match of `filter`;
    with `upsert`, insert a document (stamped) when none matches."""

    filter: Filter
    update: Update
    upsert: bool = False
    many: bool = False


@dataclass(frozen=True)
class DeleteOp:
    """Delete the first (or, with `many`, every) match of `filter`."""

    filter: Filter
    many: bool = False


WriteOp = InsertOp | UpdateOp | DeleteOp


@dataclass(frozen=True)
class BulkOutcome:
    """What a bulk write did, counted by kind."""

    inserted: int = 0
    matched: int = 0
    modified: int = 0
    upserted: int = 0
    deleted: int = 0

    @classmethod
    def of(cls, result: BulkWriteResult) -> BulkOutcome:
        return cls(
            inserted=result.inserted_count,
            matched=result.matched_count,
            modified=result.modified_count,
            upserted=result.upserted_count,
            deleted=result.deleted_count,
        )


def check_update(update: Update) -> None:
    """Refuse update operators that would change `tenant_id` or `_id` (`$rename` targets
    included)."""
    for operator, fields in update.items():
        touched = set(fields)
        if operator == "$rename":
            touched |= {str(target) for target in fields.values()}
        if touched & _FIXED_FIELDS:
            raise ValueError("tenant_id and _id cannot be changed")


def bulk_requests(
    operations: Sequence[WriteOp],
    *,
    scope: Callable[[Filter], dict[str, Any]],
    insertable: Callable[[Document], dict[str, Any]],
) -> list[Request]:
    """The driver requests for `operations`: every filter through `scope`, every insert
    through `insertable`. Raises before returning anything if one of them is refused."""
    requests: list[Request] = []
    for operation in operations:
        if isinstance(operation, InsertOp):
            requests.append(InsertOne(insertable(operation.document)))
            continue
        scoped = scope(operation.filter)
        if isinstance(operation, DeleteOp):
            requests.append(DeleteMany(scoped) if operation.many else DeleteOne(scoped))
            continue
        check_update(operation.update)
        kind = UpdateMany if operation.many else UpdateOne
        requests.append(kind(scoped, dict(operation.update), upsert=operation.upsert))
    return requests


@contextmanager
def translated_writes() -> Iterator[None]:
    """`database_errors`, and a unique index refusing a write (alone or in a bulk) as
    `Conflict`."""
    try:
        with database_errors():
            yield
    except DuplicateKeyError as exc:
        raise Conflict("A resource with these unique values already exists.") from exc
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") == _DUPLICATE_KEY for error in errors):
            raise Conflict("A resource with these unique values already exists.") from exc
        raise
