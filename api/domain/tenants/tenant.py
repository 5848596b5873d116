"""Tenants: the organisations that use Parley, each isolated from the others."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, Field

from api.domain.errors import FieldProblem, InvalidInput, InvalidTenant
from api.domain.tenancy import TenantId

# A DNS label: lower-case letters, digits and inner hyphens, 1-63 characters.
_SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_TENANT_ID = re.compile(r"^[0-9a-f]{24}$")

RESERVED_SUBDOMAINS = frozenset(
    {
        "www", "api", "admin", "app", "apps", "auth", "login", "mail", "email", "smtp",
        "imap", "pop", "ftp", "static", "assets", "cdn", "media", "files", "docs", "help",
        "support", "status", "blog", "dev", "staging", "test", "platform", "root",
        "system", "internal", "dashboard", "console", "billing", "webhooks", "ws",
        "flower", "localhost",
    }
)  # fmt: skip


class TenantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    PENDING = "pending"  # signed up by itself, waiting for a platform admin's approval
    REJECTED = "rejected"  # a sign-up a platform admin refused: serves nothing, kept


class SignupMode(StrEnum):
    OPEN = "open"  # anyone may register (as a member)
    INVITE_ONLY = "invite_only"  # only users an admin creates or invites


class Tenant(BaseModel):
    """An organisation. `subdomain` is unique across the platform. Only an active tenant
    serves requests (pending, suspended and rejected ones are refused)."""

    id: str | None = None
    name: str = Field(min_length=1, max_length=200)
    subdomain: str
    status: TenantStatus = TenantStatus.ACTIVE
    signup_mode: SignupMode = SignupMode.INVITE_ONLY
    require_email_verification: bool = True  # registered users start unverified and inactive
    plan_id: str | None = None  # None: the default plan
    created_at: datetime
    updated_at: datetime

    @property
    def is_active(self) -> bool:
        return self.status is TenantStatus.ACTIVE


class SubdomainIssue(StrEnum):
    """Why a subdomain cannot be had."""

    INVALID = "invalid"  # not a lower-case DNS label
    RESERVED = "reserved"  # kept for the platform (www, api, admin, ...): never available
    TAKEN = "taken"  # another tenant (active or suspended) has it


def subdomain_issue(value: str) -> SubdomainIssue | None:
    """INVALID or RESERVED for an already stripped, lower-cased value; None when usable."""
    if not _SUBDOMAIN.match(value):
        return SubdomainIssue.INVALID
    if value in RESERVED_SUBDOMAINS:
        return SubdomainIssue.RESERVED
    return None


def normalize_subdomain(raw: str, *, allow_reserved: bool = False) -> str:
    """Lower-case and check a subdomain; raises `InvalidInput` naming the rule broken."""
    value = raw.strip().lower()
    if not _SUBDOMAIN.match(value):
        raise InvalidInput(
            "Invalid subdomain.",
            [FieldProblem(("subdomain",), "must be 1-63 letters, digits or inner hyphens")],
        )
    if not allow_reserved and value in RESERVED_SUBDOMAINS:
        raise InvalidInput(
            "Invalid subdomain.", [FieldProblem(("subdomain",), f"'{value}' is reserved")]
        )
    return value


def parse_tenant_id(raw: str) -> str:
    """Check the shape of a tenant id from outside (24 hex digits); raises `InvalidTenant`."""
    value = raw.strip().lower()
    if not _TENANT_ID.match(value):
        raise InvalidTenant("The tenant id is malformed.")
    return value


class TenantRepository(Protocol):
    """Platform-level store of tenants (tenants are not tenant-scoped themselves)."""

    async def get(self, tenant_id: str) -> Tenant | None:
        """The tenant with this id, or None."""
        ...

    async def get_by_subdomain(self, subdomain: str) -> Tenant | None:
        """The tenant with this (normalised) subdomain, or None."""
        ...

    async def add(self, tenant: Tenant) -> Tenant:
        """Store a new tenant and return it with its id; `Conflict` if the subdomain is taken."""
        ...

    async def set_status(
        self, tenant_id: str, status: TenantStatus, *, only_from: TenantStatus | None = None
    ) -> Tenant | None:
        """Change a tenant's status (atomically, only when it is `only_from`, if given); the
        updated tenant, or None when it does not exist (or was not `only_from`)."""
        ...

    async def search(
        self, *, prefix: str | None, status: TenantStatus | None, skip: int, limit: int
    ) -> tuple[list[Tenant], int]:
        """Tenants whose name or subdomain starts with `prefix` (case-insensitive, literal
        characters; None: all), optionally of one status, ordered by subdomain: one page and
        how many match in all."""
        ...

    async def update(self, tenant_id: str, changes: dict[str, object]) -> Tenant | None:
        """Set some of `name`, `signup_mode`, `require_email_verification`; the updated
        tenant, or None when it does not exist. Status and subdomain are not changed here."""
        ...


class TenantDirectory(Protocol):
    """Fast lookups of tenants for request routing (may answer from a short-lived cache)."""

    async def by_id(self, tenant_id: str) -> Tenant | None: ...

    async def by_subdomain(self, subdomain: str) -> Tenant | None: ...

    def forget(self, tenant: Tenant) -> None:
        """Drop any cached copy of this tenant (after it changed)."""
        ...


__all__ = [
    "RESERVED_SUBDOMAINS",
    "SubdomainIssue",
    "Tenant",
    "TenantDirectory",
    "TenantId",
    "TenantRepository",
    "TenantStatus",
    "normalize_subdomain",
    "parse_tenant_id",
    "subdomain_issue",
]
