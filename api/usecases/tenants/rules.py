"""What the tenants context's use cases share: who may act on tenants, and small rules.

Tenant administration belongs to the platform plane. Its use cases take the caller as a
`PlatformCaller`, which is one of:

- a platform admin's `Principal` (HTTP): a token without a tenant, holding the named
  `tenants:*` permission; audited with the admin's id as `actor_id`;
- `OPERATOR`, the operator at the console (`python -m api.cli`): whoever can run the CLI
  against the servers already holds the platform's keys, so it acts with platform
  authority to read and change tenants (`tenants:read`, `tenants:write`). It has no
  account: its audit entries have `actor_id` None (no HTTP route can write a `tenant.*`
  entry without an admin's id, so None on one means the console). It cannot impersonate:
  an impersonation token must name a platform admin in `act`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from api.common.clock import utcnow
from api.domain.errors import FieldProblem, Forbidden, InvalidInput, NotFound
from api.domain.permissions import Permission
from api.domain.tenants.tenant import (
    Tenant,
    TenantRepository,
    TenantStatus,
    normalize_subdomain,
)


class PlatformCaller(Protocol):
    """Who asks for a platform-plane change: a platform admin's `Principal` or `OPERATOR`."""

    @property
    def user_id(self) -> str | None:
        """The acting platform admin's id (audited as `actor_id`); None for the console."""
        ...

    @property
    def is_platform(self) -> bool:
        """True when acting in the platform plane (not inside a tenant)."""
        ...

    def can(self, permission: str) -> bool: ...


@dataclass(frozen=True)
class Operator:
    """The operator at the console: platform authority over tenants, no account (a value:
    not a use case to discover)."""

    @property
    def user_id(self) -> None:
        return None

    @property
    def is_platform(self) -> bool:
        return True

    def can(self, permission: str) -> bool:
        return permission in (Permission.TENANTS_READ, Permission.TENANTS_WRITE)


OPERATOR = Operator()


def authorize(caller: PlatformCaller, permission: Permission) -> None:
    """Platform-plane callers holding `permission`; `Forbidden` otherwise."""
    if not caller.is_platform or not caller.can(permission):
        raise Forbidden(f"This needs the platform '{permission}' permission.")


def required_text(value: str, field: str) -> str:
    """`value` stripped; `InvalidInput` on `field` when nothing is left."""
    text = value.strip()
    if not text:
        raise InvalidInput(f"Invalid {field}.", [FieldProblem((field,), "must not be blank")])
    return text


async def existing_tenant(tenants: TenantRepository, tenant_id: str) -> Tenant:
    """The tenant with this id; `NotFound` for an unknown or malformed id."""
    tenant = await tenants.get(tenant_id)
    if tenant is None or tenant.id is None:
        raise NotFound("Tenant not found.")
    return tenant


async def add_tenant(
    tenants: TenantRepository,
    name: str,
    subdomain: str,
    status: TenantStatus = TenantStatus.ACTIVE,
) -> Tenant:
    """Store a new tenant (active unless told otherwise).

    Rules: the name is stripped; the subdomain is a lower-case DNS label and not reserved
    (`InvalidInput`); it is unique across the platform (`Conflict` otherwise).
    """
    now = utcnow()
    tenant = Tenant(
        name=name.strip(),
        subdomain=normalize_subdomain(subdomain),
        status=status,
        created_at=now,
        updated_at=now,
    )
    return await tenants.add(tenant)
