"""File storage: the default provider, upload limits, signed URLs, provider credentials."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from api.config.base import CsvList, env_config, split_csv

DEFAULT_ALLOWED_CONTENT_TYPES = [
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain",
    "text/csv", "audio/mpeg", "audio/ogg", "video/mp4", "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
]  # fmt: skip


class StorageSettings(BaseSettings):
    """Where files go by default, upload limits, signed URLs, and provider credentials."""

    model_config = env_config()

    storage_default_provider: str = Field(default="local", pattern="^(local|azure_blob|s3)$")
    local_storage_dir: str = ".data/blobs"
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    max_avatar_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    allowed_content_types: CsvList = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_CONTENT_TYPES)
    )
    signed_url_ttl_seconds: int = Field(default=300, ge=10, le=7 * 86400)

    # Where tenants may point their own storage (an S3 `endpoint_url`, an Azure connection
    # string's `BlobEndpoint`): Parley calls those addresses from inside its network, so a
    # free choice would let a tenant admin probe internal services (SSRF). Entries are
    # `scheme://host[:port]`; an entry without a port allows every port of that host.
    storage_allowed_endpoints: CsvList = Field(default_factory=list)

    _csv = field_validator("allowed_content_types", "storage_allowed_endpoints", mode="before")(
        split_csv
    )

    # Calls to a tenant's storage (S3, Azure): connecting and each wait for data are
    # bounded, so a store that hangs answers 503 after these; S3 calls run in threads, at
    # most STORAGE_MAX_IN_FLIGHT at once per tenant's store (the rest wait their turn
    # holding no thread), so one hung store never takes the threads others need.
    storage_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    storage_read_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    storage_max_in_flight: int = Field(default=4, ge=1, le=64)

    # Files stored from outside (uploads, avatars, message media, imports) scanned for
    # malware as they are stored: `off`, or `clamd` (ClamAV's daemon at CLAMD_HOST:PORT,
    # its INSTREAM command). Files above MALWARE_SCAN_MAX_BYTES are refused (413) while a
    # scanner is on: keep it at or below clamd's StreamMaxLength (25 MB by default).
    malware_scanner: str = Field(default="off", pattern="^(off|clamd)$")
    clamd_host: str = "127.0.0.1"
    clamd_port: int = Field(default=3310, ge=1, le=65535)
    malware_scan_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    malware_scan_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)

    azure_storage_connection_string: SecretStr | None = None
    azure_storage_container: str = "parley"
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_s3_bucket: str | None = None
    aws_s3_region: str = "us-east-1"
    aws_s3_endpoint_url: str | None = None
