"""Request and response bodies of the API key routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.domain.identity.api_keys import ApiKey, ApiKeyPage
from api.interfaces.http.schemas.identity.roles import PermissionName
from api.usecases.identity.api_keys import MAX_NAME_LENGTH


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, description="What it is for.")
    permissions: list[PermissionName] = Field(
        min_length=1,
        max_length=100,
        description=(
            "Tenant permissions the key holds, each one you hold yourself (never platform "
            "permissions nor `api_keys:manage`)."
        ),
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="When it stops working (in the future); none: never."
    )


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The 8 characters after `pk_`: how to recognise the key.")
    permissions: list[str]
    last_used_at: datetime | None = Field(
        description="When it was last used (to the minute: written at most once a minute)."
    )
    expires_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls.model_validate(
            key.model_dump(
                include={
                    "id", "name", "prefix", "permissions", "last_used_at", "expires_at",
                    "created_at",
                }
            )
        )  # fmt: skip


class CreatedApiKeyOut(ApiKeyOut):
    key: str = Field(
        description="The whole key, `pk_<prefix>_<secret>`: shown this once, never again."
    )


class ApiKeyPageOut(BaseModel):
    items: list[ApiKeyOut]
    total: int
    page: int
    page_size: int

    @classmethod
    def of(cls, found: ApiKeyPage, page: int, page_size: int) -> ApiKeyPageOut:
        return cls(
            items=[ApiKeyOut.of(k) for k in found.items],
            total=found.total,
            page=page,
            page_size=page_size,
        )
