"""Setting up the platform admin and tenants (system roles and owner), idempotently."""

from __future__ import annotations

from pydantic import BaseModel

from api.common.clock import utcnow
from api.domain.identity.auth import AuthPolicy, PasswordHasher
from api.domain.identity.users import (
    User,
    UserRepository,
    check_password_policy,
    normalize_email,
)
from api.domain.permissions import OWNER_ROLE
from api.domain.tenancy import TenantId, tenant_context
from api.domain.tenants.tenant import Tenant
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.tenant_setup import EnsureTenantSetup
from api.usecases.tenants.tenants import CreateTenant


class Onboarded(BaseModel):
    tenant: Tenant
    owner: User


class OnboardTenant:
    """Create a tenant with its system roles and its owner, in one step.

    Rules: the subdomain rules of `CreateTenant` apply (409 when taken); the owner is an
    active user of the new tenant with the `owner` role; with a password the owner can sign
    in at once (the password policy applies), without one the owner must be invited.
    """

    def __init__(
        self,
        create: CreateTenant,
        setup: EnsureTenantSetup,
        users: UserRepository,
        hasher: PasswordHasher,
        auditor: Auditor,
        policy: AuthPolicy,
    ) -> None:
        self._create = create
        self._setup = setup
        self._users = users
        self._hasher = hasher
        self._auditor = auditor
        self._policy = policy

    async def execute(
        self,
        *,
        name: str,
        subdomain: str,
        owner_email: str,
        owner_full_name: str,
        owner_password: str | None,
        actor_id: str | None,
    ) -> Onboarded:
        owner_email = normalize_email(owner_email)
        if owner_password is not None:
            check_password_policy(
                owner_password, email=owner_email, min_length=self._policy.password_min_length
            )
        tenant = await self._create.execute(name, subdomain)
        assert tenant.id is not None  # noqa: S101
        roles = await self._setup.execute(tenant.id)
        password_hash = await self._hasher.hash(owner_password) if owner_password else None
        now = utcnow()
        with tenant_context(TenantId(tenant.id)):
            owner = await self._users.get_by_email(owner_email)
            if owner is None:
                owner = await self._users.add(
                    User(
                        tenant_id=tenant.id,
                        email=owner_email,
                        full_name=owner_full_name,
                        password_hash=password_hash,
                        role_ids=[roles[OWNER_ROLE].id or ""],
                        created_at=now,
                        updated_at=now,
                    )
                )
            await self._auditor.record(
                "tenant.created", "tenant", tenant.id, actor_id=actor_id,
                changes={"name": tenant.name, "subdomain": tenant.subdomain,
                         "owner_email": owner_email},
            )  # fmt: skip
        return Onboarded(tenant=tenant, owner=owner)
