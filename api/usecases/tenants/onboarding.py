"""Setting up the platform admin and tenants (system roles and owner), idempotently."""

from __future__ import annotations

from pydantic import BaseModel

from api.common.clock import utcnow
from api.domain.errors import Conflict
from api.domain.identity.auth import AuthPolicy, PasswordHasher
from api.domain.identity.roles import Role, RoleRepository
from api.domain.identity.users import (
    PlatformUserRepository,
    User,
    UserRepository,
    check_password_policy,
    normalize_email,
)
from api.domain.permissions import OWNER_ROLE, SYSTEM_ROLES
from api.domain.tenancy import TenantId, tenant_context
from api.domain.tenants.tenant import Tenant
from api.usecases.kernel.auditor import Auditor
from api.usecases.tenants.tenants import CreateTenant


class EnsurePlatformAdmin:
    """Create the first platform admin from settings when absent (never logs the password)."""

    def __init__(self, platform_users: PlatformUserRepository, hasher: PasswordHasher) -> None:
        self._platform_users = platform_users
        self._hasher = hasher

    async def execute(self, email: str, password: str, full_name: str = "Platform admin") -> User:
        email = normalize_email(email)
        existing = await self._platform_users.get_by_email(email)
        if existing is not None:
            return existing
        now = utcnow()
        admin = User(
            tenant_id=None,
            email=email,
            full_name=full_name,
            password_hash=await self._hasher.hash(password),
            email_verified=True,
            created_at=now,
            updated_at=now,
        )
        try:
            return await self._platform_users.add(admin)
        except Conflict:  # another process created it first
            winner = await self._platform_users.get_by_email(email)
            if winner is None:
                raise
            return winner


class EnsureTenantSetup:
    """Give a tenant its system roles (`owner`, `admin`, `member`); safe to run again."""

    def __init__(self, roles: RoleRepository) -> None:
        self._roles = roles

    async def execute(self, tenant_id: str) -> dict[str, Role]:
        created: dict[str, Role] = {}
        with tenant_context(TenantId(tenant_id)):
            for name, (description, permissions) in SYSTEM_ROLES.items():
                role = await self._roles.get_by_name(name)
                if role is None:
                    now = utcnow()
                    try:
                        role = await self._roles.add(
                            Role(
                                name=name,
                                description=description,
                                permissions=sorted(permissions),
                                system=True,
                                created_at=now,
                                updated_at=now,
                            )
                        )
                    except Conflict:
                        role = await self._roles.get_by_name(name)
                        assert role is not None  # noqa: S101 - the other writer created it
                created[name] = role
        return created


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
