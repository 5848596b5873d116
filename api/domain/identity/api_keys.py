"""API keys: a tenant's credentials for server-to-server integrations.

A key is `pk_<prefix>_<secret>`: the prefix (8 hex characters) finds the key, the secret
(32 random bytes, URL-safe base64) proves it. Only a keyed hash of the whole key is
stored, and the key is shown once, when it is created. A key belongs to one tenant, holds
permissions chosen from those its creator held (never platform ones), may expire, and is
revoked by deleting it; requests authenticate with `Authorization: Bearer pk_...` or
`X-API-Key: pk_...`, and run as the key (`Principal.api_key_id`), not as a user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, Field

API_KEY_PREFIX = "pk_"
ACTOR_PREFIX = "api_key:"  # the `user_id` (and audit actor) of a key's requests


def key_actor(key_id: str) -> str:
    """The actor id a key's requests and audit entries carry."""
    return ACTOR_PREFIX + key_id


class ApiKey(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    name: str
    prefix: str
    secret_hash: str
    permissions: list[str] = Field(default_factory=list)
    created_by: str | None = None
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class ApiKeyPage(BaseModel):
    items: list[ApiKey]
    total: int


@dataclass(frozen=True)
class IssuedKey:
    """A new key: the whole key for its owner (shown once), its prefix, its stored hash."""

    key: str
    prefix: str
    secret_hash: str


class ApiKeySecrets(Protocol):
    """Makes keys and hashes presented ones (a fast keyed hash: keys are high-entropy)."""

    def issue(self) -> IssuedKey: ...

    def parse(self, presented: str) -> tuple[str, str] | None:
        """(prefix, hash) of a presented key, or None when it is not one."""
        ...

    def matches(self, presented_hash: str, stored_hash: str) -> bool:
        """Constant-time comparison."""
        ...


class ApiKeyRepository(Protocol):
    """The current tenant's keys; revoked ones are neither listed nor found by id."""

    async def add(self, key: ApiKey) -> ApiKey:
        """Store a new key; `Conflict` when its prefix is taken in the tenant."""
        ...

    async def get(self, key_id: str) -> ApiKey | None: ...

    async def by_prefix(self, prefix: str) -> ApiKey | None:
        """The key with this prefix in the current tenant, revoked or not."""
        ...

    async def search(self, *, skip: int, limit: int) -> ApiKeyPage:
        """Unrevoked keys, newest first, and their total."""
        ...

    async def revoke(self, key_id: str, at: datetime) -> ApiKey | None:
        """Mark an unrevoked key revoked; None when absent or already revoked."""
        ...

    async def touch(self, key_id: str, at: datetime) -> None:
        """Set `last_used_at`."""
        ...
