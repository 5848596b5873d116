"""`SealedSecrets` adapter: every field MongoDB holds a `SecretBox` ciphertext in.

Platform-level by design (a key rotation concerns every tenant at once): an operator's
sweep, run from the CLI, never reachable through a route. A new encrypted field must be
listed in `SEALED_FIELDS` (`tests/e2e/operations/test_secret_rotation.py` checks that
every ciphertext the app stored opens under the new key alone after a sweep).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from beanie import Document
from bson import ObjectId

from api.domain.operations.sealed_secrets import SealedSecret
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.files.storage import StorageConfigDocument
from api.infrastructure.persistence.identity.users import PlatformUserDocument, UserDocument
from api.infrastructure.persistence.messaging.channels import ChannelDocument

BATCH = 500


@dataclass(frozen=True)
class SealedField:
    """A field of `document` that holds a ciphertext, or with `each_key`, a mapping of
    names to ciphertexts (each `field.<name>` is one secret)."""

    document: type[Document]
    field: str
    each_key: bool = False


SEALED_FIELDS: tuple[SealedField, ...] = (
    SealedField(UserDocument, "mfa_secret"),
    SealedField(PlatformUserDocument, "mfa_secret"),
    SealedField(ChannelDocument, "secrets", each_key=True),
    SealedField(StorageConfigDocument, "connection_string"),
    SealedField(StorageConfigDocument, "secret_access_key"),
)


def _found(sealed: SealedField, document: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field path, ciphertext) of each secret `sealed` names in `document`."""
    value = document.get(sealed.field)
    if sealed.each_key and isinstance(value, Mapping):
        for name, ciphertext in sorted(value.items()):
            if isinstance(ciphertext, str) and "." not in name and not name.startswith("$"):
                yield f"{sealed.field}.{name}", ciphertext
    elif not sealed.each_key and isinstance(value, str):
        yield sealed.field, value


class MongoSealedSecrets:
    """The ciphertexts of `SEALED_FIELDS`, by collection and `_id`; replaced one at a time
    with a conditional update (the field must still hold the ciphertext read)."""

    def __init__(self, fields: tuple[SealedField, ...] = SEALED_FIELDS) -> None:
        self._fields = fields

    async def batches(self) -> AsyncIterator[list[SealedSecret]]:
        for sealed in self._fields:
            async for batch in self._batches(sealed):
                yield batch

    async def _batches(self, sealed: SealedField) -> AsyncIterator[list[SealedSecret]]:
        collection = sealed.document.get_pymongo_collection()
        store = sealed.document.get_collection_name()
        after: ObjectId | None = None
        while True:
            query: dict[str, Any] = {sealed.field: {"$ne": None}}
            if after is not None:
                query["_id"] = {"$gt": after}
            with database_errors():
                documents = await collection.find(
                    query, {sealed.field: 1}, sort=[("_id", 1)], limit=BATCH
                ).to_list()
            if not documents:
                return
            after = documents[-1]["_id"]
            batch = [
                SealedSecret(store, str(document["_id"]), path, ciphertext)
                for document in documents
                for path, ciphertext in _found(sealed, document)
            ]
            if batch:
                yield batch

    async def replace(self, secret: SealedSecret, ciphertext: str) -> bool:
        document = next(
            (f.document for f in self._fields if f.document.get_collection_name() == secret.store),
            None,
        )
        if document is None or not ObjectId.is_valid(secret.record_id):
            return False
        filter = {"_id": ObjectId(secret.record_id), secret.field: secret.ciphertext}
        with database_errors():
            result = await document.get_pymongo_collection().update_one(
                filter, {"$set": {secret.field: ciphertext}}
            )
        return result.modified_count == 1
