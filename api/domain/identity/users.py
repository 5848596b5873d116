"""People who sign in: tenant users (one account per tenant and email) and platform admins."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, Field

from api.domain.errors import FieldProblem, InvalidInput

MAX_PASSWORD_BYTES = 1024


class User(BaseModel):
    """A tenant user (`tenant_id` set) or a platform admin (`tenant_id` None)."""

    id: str | None = None
    tenant_id: str | None
    email: str  # normalised: stripped, lower case
    phone: str | None = None  # E.164: where sign-in codes go by WhatsApp
    full_name: str = Field(min_length=1, max_length=200)
    password_hash: str | None = None  # None: invited, has not set a password yet
    is_active: bool = True
    email_verified: bool = False
    mfa_enabled: bool = False
    mfa_secret: str | None = None  # encrypted at rest
    # Keyed digests of the unused MFA recovery codes (`RecoveryCodes`); each one signs in once.
    mfa_recovery_codes: list[str] = Field(default_factory=list)
    role_ids: list[str] = Field(default_factory=list)
    avatar_key: str | None = None
    created_at: datetime
    updated_at: datetime


def normalize_email(raw: str) -> str:
    return raw.strip().lower()


def check_password_policy(password: str, *, email: str, min_length: int) -> None:
    """Raises `InvalidInput` when `password` is too short, too long, or the email itself."""
    problems: list[FieldProblem] = []
    if len(password) < min_length:
        problems.append(FieldProblem(("password",), f"must be at least {min_length} characters"))
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        problems.append(FieldProblem(("password",), "is too long"))
    lowered = password.strip().lower()
    if lowered and (lowered == email.lower() or lowered == email.lower().split("@", 1)[0]):
        problems.append(FieldProblem(("password",), "must not be your email address"))
    if problems:
        raise InvalidInput("The password does not meet the policy.", problems)


class UserPage(BaseModel):
    items: list[User]
    total: int


class UserRepository(Protocol):
    """Tenant users of the current tenant (scoped by the context)."""

    async def add(self, user: User) -> User:
        """Store a new user; `Conflict` when the email exists in this tenant."""
        ...

    async def get(self, user_id: str) -> User | None: ...

    async def get_by_email(self, email: str) -> User | None: ...

    async def find_by_phone(self, phone: str, *, limit: int) -> list[User]:
        """Up to `limit` users of this tenant with this (E.164) phone number."""
        ...

    async def update(self, user_id: str, changes: dict[str, object]) -> User | None: ...

    async def spend_recovery_code(self, user_id: str, digest: str) -> User | None:
        """Take `digest` from the user's recovery codes if it is there and MFA is on, at
        once (two requests can never spend one code); the user after, or None."""
        ...

    async def delete(self, user_id: str) -> bool: ...

    async def search(
        self,
        *,
        query: str | None,
        is_active: bool | None,
        role_id: str | None,
        skip: int,
        limit: int,
    ) -> UserPage: ...

    async def count_with_role(self, role_id: str) -> int: ...

    async def remove_role_everywhere(self, role_id: str) -> list[str]:
        """Take `role_id` from every user; the ids of the users who had it."""
        ...


class PlatformUserRepository(Protocol):
    """Platform admins (no tenant)."""

    async def add(self, user: User) -> User: ...

    async def get(self, user_id: str) -> User | None: ...

    async def get_by_email(self, email: str) -> User | None: ...

    async def update(self, user_id: str, changes: dict[str, object]) -> User | None: ...

    async def spend_recovery_code(self, user_id: str, digest: str) -> User | None: ...

    async def all(self) -> list[User]:
        """Every platform admin, oldest first (they are few)."""
        ...
