"""Request and response bodies of the platform plane's tenant routes (`/api/v1/tenants`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from api.domain.tenants.tenant import SignupMode, SubdomainIssue, Tenant, TenantStatus
from api.usecases.tenants.create_tenant import CreatedTenant
from api.usecases.tenants.invite_tenant_owner import InvitationStatus

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class TenantOut(BaseModel):
    """A tenant as platform admins see it (a superset of the public tenant shape)."""

    id: str
    name: str
    subdomain: str
    status: TenantStatus
    signup_mode: SignupMode
    require_email_verification: bool
    created_at: datetime

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOut:
        return cls(id=tenant.id or "", **tenant.model_dump(include=_TENANT_FIELDS))


_TENANT_FIELDS = set(TenantOut.model_fields) - {"id"}


class TenantSearchOut(BaseModel):
    items: list[TenantOut]


class TenantCreateIn(BaseModel):
    """A new tenant and its owner; without `owner_password` the owner is invited by email."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    subdomain: str = Field(min_length=1, max_length=63, examples=["acme"])
    owner_email: EmailStr = Field(max_length=320)
    owner_password: str | None = Field(default=None, min_length=1, max_length=1024)
    owner_full_name: Name


class OwnerOut(BaseModel):
    id: str
    email: str
    full_name: str
    invitation: InvitationStatus | None = Field(
        default=None,
        description=(
            "`queued`: an invitation email is on its way; `failed`: the job queue was down "
            "and the email is recorded as failed; null: the owner was given a password."
        ),
    )


class TenantCreatedOut(TenantOut):
    owner: OwnerOut

    @classmethod
    def of_created(cls, created: CreatedTenant) -> TenantCreatedOut:
        owner = created.owner
        return cls(
            **TenantOut.of(created.tenant).model_dump(),
            owner=OwnerOut(
                id=owner.id or "",
                email=owner.email,
                full_name=owner.full_name,
                invitation=created.invitation,
            ),
        )


class TenantUpdateIn(BaseModel):
    """Fields to change; omitted (or null) ones stay as they are. The subdomain never changes."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    signup_mode: SignupMode | None = None
    require_email_verification: bool | None = None
    status: TenantStatus | None = None


class SubdomainAvailabilityOut(BaseModel):
    subdomain: str
    available: bool
    reason: SubdomainIssue | None = Field(
        default=None,
        description="Why not: `invalid` (not a DNS label), `reserved` or `taken`.",
    )


class ImpersonateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=64)


class SignupIn(BaseModel):
    """A new organisation and its owner (self-service)."""

    model_config = ConfigDict(extra="forbid")

    company: str = Field(min_length=1, max_length=200, examples=["Acme Jewellers"])
    subdomain: str = Field(min_length=1, max_length=63, examples=["acme"])
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    full_name: str = Field(min_length=1, max_length=200)
    website: str | None = Field(
        default=None,
        max_length=500,
        description="Leave empty: a field hidden from people (a sign-up filling it is "
        "answered 202 and dropped).",
    )


class TenantRejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(
        default=None, max_length=1000, description="Told to the owner in the email."
    )
