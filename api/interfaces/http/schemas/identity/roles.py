"""Request and response bodies of the role and permission routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.domain.identity.roles import Role
from api.domain.permissions import CatalogEntry
from api.interfaces.http.schemas.paging import Page

RoleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
PermissionName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
RoleId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: RoleName
    description: Description = ""
    permissions: list[PermissionName] = Field(default_factory=list, max_length=100)
    inherits: list[RoleId] = Field(default_factory=list, max_length=50)
    departments_only: bool = Field(
        default=False,
        description=(
            "Limit holders to the records (conversations, leads, tickets, callback requests) "
            "of the departments they are members of. A user is limited only when every role "
            "they hold is."
        ),
    )


class RoleUpdateIn(BaseModel):
    """Fields left out keep their values."""

    model_config = ConfigDict(extra="forbid")

    name: RoleName | None = None
    description: Description | None = None
    permissions: list[PermissionName] | None = Field(default=None, max_length=100)
    inherits: list[RoleId] | None = Field(default=None, max_length=50)
    departments_only: bool | None = None


class RoleOut(BaseModel):
    id: str
    name: str
    description: str
    permissions: list[str]
    inherits: list[str]
    departments_only: bool
    system: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, role: Role) -> RoleOut:
        return cls(id=role.id or "", **role.model_dump(exclude={"id", "tenant_id"}))


RolePageOut = Page[RoleOut]


class PermissionOut(BaseModel):
    name: str
    description: str

    @classmethod
    def of(cls, permission: CatalogEntry) -> PermissionOut:
        return cls(name=permission.name, description=permission.description)


class PermissionsOut(BaseModel):
    items: list[PermissionOut]
