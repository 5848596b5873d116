"""Request bodies of the user-management routes (answers are `identity.UserOut`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from api.interfaces.http.schemas.identity.auth import UserOut
from api.interfaces.http.schemas.paging import Page

FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
RoleId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class UserCreateIn(BaseModel):
    """Without `password` the user is invited by email; without `role_ids`, a member."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(max_length=320)
    full_name: FullName
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    role_ids: list[RoleId] | None = Field(default=None, max_length=50)


class UserUpdateIn(BaseModel):
    """Profile fields only: roles and the active flag have their own routes."""

    model_config = ConfigDict(extra="forbid")

    full_name: FullName | None = None
    email: EmailStr | None = Field(default=None, max_length=320)
    phone: str | None = Field(
        default=None,
        max_length=32,
        description="International number (`+...`), where sign-in codes go by WhatsApp; "
        '`""` clears it.',
    )


class UserRolesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role_ids: list[RoleId] = Field(max_length=50)


UserPageOut = Page[UserOut]
