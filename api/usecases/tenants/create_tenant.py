"""Creating a tenant with its system roles and its owner: the one path for HTTP and CLI."""

from __future__ import annotations

from pydantic import BaseModel, EmailStr, TypeAdapter, ValidationError

from api.common.clock import utcnow
from api.domain.errors import FieldProblem, InvalidInput
from api.domain.identity.auth import PasswordHasher
from api.domain.identity.users import User, UserRepository, normalize_email
from api.domain.permissions import OWNER_ROLE, Permission
from api.domain.tenancy import TenantId, tenant_context
from api.domain.tenants.tenant import Tenant, TenantRepository, TenantStatus
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.passwords import PasswordRules
from api.usecases.kernel.tenant_setup import EnsureTenantSetup
from api.usecases.tenants.invite_tenant_owner import InvitationStatus, InviteTenantOwner
from api.usecases.tenants.rules import PlatformCaller, add_tenant, authorize, required_text

_ADDRESS: TypeAdapter[str] = TypeAdapter(EmailStr)


class CreatedTenant(BaseModel):
    tenant: Tenant
    owner: User
    invitation: InvitationStatus | None = None  # None: the owner has a password


def owner_address(raw: str, field: str = "owner_email") -> str:
    """The owner's email, trimmed and lower-cased; `InvalidInput` on `field` when it is no
    address."""
    email = normalize_email(raw)
    try:
        _ADDRESS.validate_python(email)
    except ValidationError:
        raise InvalidInput(
            "Invalid owner email.", [FieldProblem((field,), "not a valid email address")]
        ) from None
    return email


class CreateTenant:
    """Create a tenant, its system roles and its owner (`tenants:write`, platform plane).

    Run by platform admins (`POST /api/v1/tenants`) and by the operator at the console
    (`python -m api.cli tenants create`, as `OPERATOR`): one path, one behaviour.

    Rules:
    - the name and the owner's name are not blank; the owner's email is an address; a
      given password meets the password policy (never the email): all checked before
      anything is stored (`InvalidInput`);
    - the subdomain is a lower-case DNS label and not reserved (`InvalidInput`) and unique
      across the platform (`Conflict`); a new tenant is active;
    - the tenant gets its system roles (`owner`, `admin`, `member`);
    - the owner is an active user of the new tenant holding the `owner` role; with a
      password they can sign in at once, without one they are invited by email
      (`InviteTenantOwner`; a job queue outage is reported, not undone);
    - the creation is audited as `tenant.created` in the new tenant, with the caller as
      actor (None for the console) and the name, subdomain and owner email as changes.
    """

    def __init__(
        self,
        tenants: TenantRepository,
        setup: EnsureTenantSetup,
        users: UserRepository,
        hasher: PasswordHasher,
        invite: InviteTenantOwner,
        auditor: Auditor,
        passwords: PasswordRules,
    ) -> None:
        self._tenants = tenants
        self._passwords = passwords
        self._setup = setup
        self._users = users
        self._hasher = hasher
        self._invite = invite
        self._auditor = auditor

    async def execute(
        self,
        caller: PlatformCaller,
        *,
        name: str,
        subdomain: str,
        owner_email: str,
        owner_full_name: str,
        owner_password: str | None,
    ) -> CreatedTenant:
        authorize(caller, Permission.TENANTS_WRITE)
        tenant, owner = await self.store(
            name=name,
            subdomain=subdomain,
            owner_email=owner_email,
            owner_full_name=owner_full_name,
            owner_password=owner_password,
            actor_id=caller.user_id,
        )
        invitation = None
        if owner.password_hash is None:
            invitation = await self._invite.execute(caller.user_id, tenant, owner)
        return CreatedTenant(tenant=tenant, owner=owner, invitation=invitation)

    async def store(
        self,
        *,
        name: str,
        subdomain: str,
        owner_email: str,
        owner_full_name: str,
        owner_password: str | None,
        actor_id: str | None,
        status: TenantStatus = TenantStatus.ACTIVE,
        action: str = "tenant.created",
        owner_acts: bool = False,
    ) -> tuple[Tenant, User]:
        """The checks and writes of a new tenant and its owner, audited as `action` with
        `actor_id` (the new owner's id with `owner_acts`). Also run by `SignUpTenant`, which
        makes a pending tenant; callers authorise first."""
        name = required_text(name, "name")
        owner_full_name = required_text(owner_full_name, "owner_full_name")
        owner_email = owner_address(owner_email)
        if owner_password is not None:
            await self._passwords.check(owner_password, email=owner_email)
        tenant = await add_tenant(self._tenants, name, subdomain, status)
        assert tenant.id is not None  # noqa: S101 - stored tenants have ids
        owner = await self._add_owner(tenant.id, owner_email, owner_full_name, owner_password)
        with tenant_context(TenantId(tenant.id)):
            await self._auditor.record(
                action, "tenant", tenant.id, actor_id=owner.id if owner_acts else actor_id,
                changes={"name": tenant.name, "subdomain": tenant.subdomain,
                         "owner_email": owner_email},
            )  # fmt: skip
        return tenant, owner

    async def _add_owner(
        self, tenant_id: str, email: str, full_name: str, password: str | None
    ) -> User:
        roles = await self._setup.execute(tenant_id)
        password_hash = await self._hasher.hash(password) if password else None
        now = utcnow()
        with tenant_context(TenantId(tenant_id)):
            owner = await self._users.get_by_email(email)
            if owner is None:
                owner = await self._users.add(
                    User(
                        tenant_id=tenant_id,
                        email=email,
                        full_name=full_name,
                        password_hash=password_hash,
                        role_ids=[roles[OWNER_ROLE].id or ""],
                        created_at=now,
                        updated_at=now,
                    )
                )
        return owner
