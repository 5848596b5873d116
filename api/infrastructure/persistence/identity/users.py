"""Users in MongoDB: tenant users (scoped by the context) and platform admins (unscoped)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from beanie import Document, SortDirection
from bson import ObjectId
from pydantic import BaseModel, Field
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from api.common.clock import utcnow
from api.domain.errors import Conflict
from api.domain.identity.users import User, UserPage, normalize_email
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    to_object_id,
)

DUPLICATE_EMAIL = "A user with this email already exists."
MAX_PLATFORM_ADMINS = 1000  # listed at most (an operator team, not a user base)
_IMMUTABLE = frozenset({"id", "_id", TENANT_FIELD, "name_lower"})
_ASCENDING = SortDirection.ASCENDING


def normalize_name(name: str) -> str:
    """Lower case, accents stripped, single spaces: what name search compares against."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


class UserFields(BaseModel):
    """The stored fields of a user, shared by tenant users and platform admins."""

    email: str
    phone: str | None = None
    full_name: str
    password_hash: str | None = None
    is_active: bool = True
    email_verified: bool = False
    mfa_enabled: bool = False
    mfa_secret: str | None = None
    mfa_recovery_codes: list[str] = Field(default_factory=list)
    role_ids: list[str] = Field(default_factory=list)
    avatar_key: str | None = None
    created_at: datetime
    updated_at: datetime


_FIELDS = set(UserFields.model_fields)


def _fields_of(user: User) -> dict[str, Any]:
    fields = user.model_dump(include=_FIELDS)
    fields["email"] = normalize_email(user.email)
    return fields


def _prepare_changes(changes: Mapping[str, object], *, search_name: bool) -> dict[str, Any]:
    """Validated `$set` fields: only known, mutable fields; `updated_at` stamped now."""
    refused = set(changes) & _IMMUTABLE
    if refused:
        raise ValueError(f"{sorted(refused)} cannot be changed")
    unknown = set(changes) - _FIELDS
    if unknown:
        raise ValueError(f"unknown user fields: {sorted(unknown)}")
    prepared: dict[str, Any] = {**changes, "updated_at": utcnow()}
    if isinstance(prepared.get("email"), str):
        prepared["email"] = normalize_email(prepared["email"])
    if search_name and isinstance(prepared.get("full_name"), str):
        prepared["name_lower"] = normalize_name(prepared["full_name"])
    return prepared


def _spendable(oid: ObjectId, digest: str) -> dict[str, Any]:
    """The user, if MFA is on and `digest` is among their unused recovery codes."""
    return {"_id": oid, "mfa_enabled": True, "mfa_recovery_codes": digest}


def _spend(digest: str) -> dict[str, Any]:
    return {"$pull": {"mfa_recovery_codes": digest}, "$set": {"updated_at": utcnow()}}


def _prefix(text: str) -> dict[str, str]:
    return {"$regex": "^" + re.escape(text)}


class UserDocument(TenantOwnedDocument, UserFields):
    name_lower: str = ""  # normalize_name(full_name), kept in sync by the repository

    class Settings:
        name = "users"
        # Read whole documents (every stored field is one of the model's): Beanie would
        # otherwise send an inclusion projection naming all 16 fields with every read, which
        # the embedded server (SecantusDB) applies field by field, ~0.25 ms of its CPU per
        # read (a fifth of a by-id read's cost there; bench/README.md, issue #17).
        projection = None
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1), ("email", 1)], unique=True, name="tenant_email_unique"),
            IndexModel([(TENANT_FIELD, 1), ("role_ids", 1)], name="tenant_roles"),
            IndexModel([(TENANT_FIELD, 1), ("is_active", 1)], name="tenant_active"),
            IndexModel([(TENANT_FIELD, 1), ("name_lower", 1)], name="tenant_name"),
            IndexModel([(TENANT_FIELD, 1), ("phone", 1)], name="tenant_phone"),
        ]

    @classmethod
    def from_entity(cls, user: User) -> UserDocument:
        fields = _fields_of(user)
        return cls(
            tenant_id=user.tenant_id or "", name_lower=normalize_name(user.full_name), **fields
        )

    def to_entity(self) -> User:
        return User(id=str(self.id), tenant_id=self.tenant_id, **self.model_dump(include=_FIELDS))


class BeanieUserRepository:
    """`UserRepository` adapter, within the current tenant (fail closed: `TenantRequired`)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(UserDocument)

    async def add(self, user: User) -> User:
        try:
            document = await self._scoped.insert(UserDocument.from_entity(user))
        except Conflict as exc:
            raise Conflict(DUPLICATE_EMAIL) from exc
        return document.to_entity()

    async def get(self, user_id: str) -> User | None:
        self._scoped.scope()  # no tenant: TenantRequired, even for a malformed id
        document = await self._scoped.get(user_id)
        return document.to_entity() if document else None

    async def get_by_email(self, email: str) -> User | None:
        found = await self._scoped.find({"email": normalize_email(email)}, limit=1)
        return found[0].to_entity() if found else None

    async def find_by_phone(self, phone: str, *, limit: int) -> list[User]:
        found = await self._scoped.find({"phone": phone}, limit=limit)
        return [document.to_entity() for document in found]

    async def update(self, user_id: str, changes: dict[str, object]) -> User | None:
        """Set `changes`; None when no such user in this tenant; `Conflict` on a taken email."""
        self._scoped.scope()  # no tenant: TenantRequired before anything else
        prepared = _prepare_changes(changes, search_name=True)
        try:
            document = await self._scoped.update(user_id, prepared)
        except Conflict as exc:
            raise Conflict(DUPLICATE_EMAIL) from exc
        return document.to_entity() if document else None

    async def spend_recovery_code(self, user_id: str, digest: str) -> User | None:
        self._scoped.scope()
        oid = to_object_id(user_id)
        if oid is None:
            return None
        document = await self._scoped.apply_and_get(_spendable(oid, digest), _spend(digest))
        return document.to_entity() if document else None

    async def delete(self, user_id: str) -> bool:
        self._scoped.scope()
        return await self._scoped.delete(user_id)

    async def search(
        self,
        *,
        query: str | None,
        is_active: bool | None,
        role_id: str | None,
        skip: int,
        limit: int,
    ) -> UserPage:
        """A page of users, oldest first, and the total matching.

        `query` matches, case-insensitively, the start of the email or of any word of the
        name; its characters are literal (escaped), never a pattern.
        """
        filter: dict[str, Any] = {}
        if is_active is not None:
            filter["is_active"] = is_active
        if role_id is not None:
            filter["role_ids"] = role_id
        if query and query.strip():
            email_text, name_text = normalize_email(query), normalize_name(query)
            clauses: list[dict[str, Any]] = [{"email": _prefix(email_text)}]
            if name_text:
                clauses.append({"name_lower": _prefix(name_text)})
                clauses.append({"name_lower": {"$regex": " " + re.escape(name_text)}})
            filter["$or"] = clauses
        total = await self._scoped.count(filter)
        if limit <= 0:
            return UserPage(items=[], total=total)
        documents = await self._scoped.find(
            filter,
            sort=[("created_at", _ASCENDING), ("_id", _ASCENDING)],
            skip=max(skip, 0),
            limit=limit,
        )
        return UserPage(items=[d.to_entity() for d in documents], total=total)

    async def count_with_role(self, role_id: str) -> int:
        return await self._scoped.count({"role_ids": role_id})

    async def remove_role_everywhere(self, role_id: str) -> list[str]:
        """Take `role_id` from every user of this tenant; the ids of those who had it."""
        holders = {"role_ids": role_id}
        affected = [str(u.id) async for batch in self._scoped.batches(holders) for u in batch]
        if affected:
            await self._scoped.update_many(
                holders, {"$pull": {"role_ids": role_id}, "$set": {"updated_at": utcnow()}}
            )
        return affected


class PlatformUserDocument(Document, UserFields):
    class Settings:
        name = "platform_users"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([("email", 1)], unique=True, name="email_unique"),
        ]

    def to_entity(self) -> User:
        return User(id=str(self.id), tenant_id=None, **self.model_dump(include=_FIELDS))


class MongoPlatformUserRepository:
    """`PlatformUserRepository` adapter. Platform plane: not tenant-scoped, on purpose.

    Platform admins belong to no tenant; their entity's `tenant_id` is always None.
    """

    async def add(self, user: User) -> User:
        if user.tenant_id is not None:
            raise ValueError("a platform admin belongs to no tenant")
        document = PlatformUserDocument(**_fields_of(user))
        try:
            with database_errors():
                await document.insert()
        except DuplicateKeyError as exc:
            raise Conflict(DUPLICATE_EMAIL) from exc
        return document.to_entity()

    async def get(self, user_id: str) -> User | None:
        oid = to_object_id(user_id)
        if oid is None:
            return None
        with database_errors():
            document = await PlatformUserDocument.find_one({"_id": oid})
        return document.to_entity() if document else None

    async def get_by_email(self, email: str) -> User | None:
        with database_errors():
            document = await PlatformUserDocument.find_one({"email": normalize_email(email)})
        return document.to_entity() if document else None

    async def update(self, user_id: str, changes: dict[str, object]) -> User | None:
        """Set `changes`; None when no such admin; `Conflict` on a taken email."""
        prepared = _prepare_changes(changes, search_name=False)
        oid = to_object_id(user_id)
        if oid is None:
            return None
        collection = PlatformUserDocument.get_pymongo_collection()
        try:
            with database_errors():
                result = await collection.update_one({"_id": oid}, {"$set": prepared})
        except DuplicateKeyError as exc:
            raise Conflict(DUPLICATE_EMAIL) from exc
        return await self.get(user_id) if result.matched_count else None

    async def all(self) -> list[User]:
        with database_errors():
            found = await PlatformUserDocument.find_all().sort("_id").to_list(MAX_PLATFORM_ADMINS)
        return [document.to_entity() for document in found]

    async def spend_recovery_code(self, user_id: str, digest: str) -> User | None:
        oid = to_object_id(user_id)
        if oid is None:
            return None
        collection = PlatformUserDocument.get_pymongo_collection()
        with database_errors():
            result = await collection.update_one(_spendable(oid, digest), _spend(digest))
        return await self.get(user_id) if result.modified_count else None
