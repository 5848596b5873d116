"""Request and response bodies of the storage settings and file routes.

Secrets (`connection_string`, `secret_access_key`) appear only in requests; no response
model has a field that could carry one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.domain.files.storage import StorageConfig, StorageProvider
from api.usecases.files.file_store import FileWithUrl
from api.usecases.files.settings_view import StorageSettingsView

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LocalSettingsIn(BaseModel):
    model_config = _STRICT

    provider: Literal["local"]

    def to_config(self) -> StorageConfig:
        return StorageConfig(provider=StorageProvider.LOCAL)


class AzureSettingsIn(BaseModel):
    model_config = _STRICT

    provider: Literal["azure_blob"]
    connection_string: str = Field(min_length=1, max_length=4096)
    # Azure's container rule: 3-63 lower-case letters, digits and single inner hyphens.
    container: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9](?:-?[a-z0-9])*$")

    def to_config(self) -> StorageConfig:
        return StorageConfig(
            provider=StorageProvider.AZURE_BLOB,
            connection_string=self.connection_string,
            container=self.container,
        )


class S3SettingsIn(BaseModel):
    model_config = _STRICT

    provider: Literal["s3"]
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    region: str = Field(pattern=r"^[a-z0-9-]{2,32}$")
    access_key_id: str = Field(min_length=1, max_length=256)
    secret_access_key: str = Field(min_length=1, max_length=1024)
    endpoint_url: str | None = Field(default=None, max_length=2048)

    @field_validator("endpoint_url")
    @classmethod
    def _plain_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("must not carry credentials, a query or a fragment")
        return value.rstrip("/")

    def to_config(self) -> StorageConfig:
        return StorageConfig(
            provider=StorageProvider.S3,
            bucket=self.bucket,
            region=self.region,
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
            endpoint_url=self.endpoint_url,
        )


StorageSettingsIn = Annotated[
    LocalSettingsIn | AzureSettingsIn | S3SettingsIn, Field(discriminator="provider")
]


class StorageSettingsOut(BaseModel):
    provider: StorageProvider
    container: str | None = None
    bucket: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    has_secret: bool
    is_default: bool = Field(description="True when the tenant uses the deployment default.")
    updated_at: datetime | None = None
    max_upload_bytes: int
    allowed_content_types: list[str]

    @classmethod
    def of(cls, view: StorageSettingsView) -> StorageSettingsOut:
        return cls(**view.model_dump())


class ProviderOut(BaseModel):
    provider: StorageProvider
    configured: bool


class ProvidersOut(BaseModel):
    items: list[ProviderOut]


class FileOut(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    url: str = Field(description="A signed download URL, valid until `url_expires_at`.")
    url_expires_at: datetime
    created_at: datetime

    @classmethod
    def of(cls, found: FileWithUrl) -> FileOut:
        file = found.file
        return cls(
            id=file.id or "",
            filename=file.filename,
            content_type=file.content_type,
            size=file.size,
            sha256=file.sha256,
            url=found.url.url,
            url_expires_at=found.url.expires_at,
            created_at=file.created_at,
        )
