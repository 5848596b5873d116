"""The rules of the files context: the deployment's file policy, and which storage
settings each provider takes (required, allowed, public, secret)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from api.domain.errors import FieldProblem, InvalidInput
from api.domain.files.storage import StorageConfig, StorageProvider

AVATAR = "avatar"  # the purpose of a stored file that is a user's avatar
AVATAR_CONTENT_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
PUBLIC_FIELDS = ("provider", "container", "bucket", "region", "endpoint_url")
SECRET_FIELDS = ("connection_string", "secret_access_key")
REQUIRED_FIELDS: dict[StorageProvider, tuple[str, ...]] = {
    StorageProvider.LOCAL: (),
    StorageProvider.AZURE_BLOB: ("connection_string", "container"),
    StorageProvider.S3: ("bucket", "region", "access_key_id", "secret_access_key"),
}
ALLOWED_FIELDS: dict[StorageProvider, tuple[str, ...]] = {
    **REQUIRED_FIELDS,
    StorageProvider.S3: (*REQUIRED_FIELDS[StorageProvider.S3], "endpoint_url"),
}


@dataclass(frozen=True)
class StoragePolicy:
    """The deployment's file rules, from settings."""

    max_upload_bytes: int
    max_avatar_bytes: int
    allowed_content_types: frozenset[str]
    signed_url_ttl_seconds: int
    avatar_content_types: frozenset[str] = AVATAR_CONTENT_TYPES
    allowed_endpoints: frozenset[str] = frozenset()  # STORAGE_ALLOWED_ENDPOINTS


# Azure's public clouds: a connection string without a `BlobEndpoint` reaches
# `https://<account>.blob.<suffix>`.
AZURE_PUBLIC_SUFFIXES = frozenset(
    {"core.windows.net", "core.chinacloudapi.cn", "core.usgovcloudapi.net"}
)
AZURITE_BLOB_ENDPOINT = "http://127.0.0.1:10000"  # what UseDevelopmentStorage=true means
_ENDPOINT_REFUSED = "is not an endpoint this deployment allows (STORAGE_ALLOWED_ENDPOINTS)"


def endpoint_allowed(url: str, allowed: frozenset[str]) -> bool:
    """Whether `url`'s origin is one of `allowed` (`scheme://host[:port]`; an entry without
    a port allows every port of its host). Hosts compare without case."""
    origin = _origin(url)
    if origin is None:
        return False
    scheme, host, port = origin
    for entry in allowed:
        wanted = _origin(entry)
        if wanted is None or (wanted[0], wanted[1]) != (scheme, host):
            continue
        if wanted[2] is None or wanted[2] == port:
            return True
    return False


def _origin(url: str) -> tuple[str, str, int | None] | None:
    parsed = urlsplit(url.strip())
    try:
        port = parsed.port
    except ValueError:
        return None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return None
    return parsed.scheme, parsed.hostname.lower(), port


def azure_blob_endpoint(connection_string: str) -> str | None:
    """The blob service an Azure connection string reaches, when it names one itself
    (`BlobEndpoint`, or the development storage); None for a public-cloud account."""
    parts: dict[str, str] = {}
    for item in connection_string.split(";"):
        key, sep, value = item.partition("=")
        if sep:
            parts[key.strip().lower()] = value.strip()
    if parts.get("usedevelopmentstorage", "").lower() == "true":
        return parts.get("developmentstorageproxyuri") or AZURITE_BLOB_ENDPOINT
    return parts.get("blobendpoint")


def check_endpoint(config: StorageConfig, policy: StoragePolicy) -> None:
    """`InvalidInput` when the settings would make Parley call an address the deployment
    does not allow: an S3 `endpoint_url`, an Azure `BlobEndpoint` or an Azure endpoint
    suffix outside the public clouds."""
    s3_endpoint = config.endpoint_url if config.provider is StorageProvider.S3 else None
    if s3_endpoint and not endpoint_allowed(s3_endpoint, policy.allowed_endpoints):
        raise InvalidInput(
            "The storage endpoint is not allowed.",
            [FieldProblem(("endpoint_url",), _ENDPOINT_REFUSED)],
        )
    if config.provider is StorageProvider.AZURE_BLOB and config.connection_string:
        endpoint = azure_blob_endpoint(config.connection_string)
        suffix = _azure_suffix(config.connection_string)
        allowed = (
            endpoint_allowed(endpoint, policy.allowed_endpoints)
            if endpoint is not None
            else suffix in AZURE_PUBLIC_SUFFIXES
        )
        if not allowed:
            raise InvalidInput(
                "The storage endpoint is not allowed.",
                [FieldProblem(("connection_string",), _ENDPOINT_REFUSED)],
            )


def _azure_suffix(connection_string: str) -> str:
    for item in connection_string.split(";"):
        key, sep, value = item.partition("=")
        if sep and key.strip().lower() == "endpointsuffix":
            return value.strip().lower()
    return "core.windows.net"


def check_fields(config: StorageConfig) -> StorageConfig:
    """The settings with only the provider's own fields; `InvalidInput` when one is missing."""
    missing = [name for name in REQUIRED_FIELDS[config.provider] if not getattr(config, name)]
    if missing:
        raise InvalidInput(
            f"These settings are required for {config.provider.value}.",
            [FieldProblem((name,), "is required") for name in missing],
        )
    keep = {"provider", *ALLOWED_FIELDS[config.provider]}
    return StorageConfig(**config.model_dump(include=keep))


def scrub(text: str, config: StorageConfig) -> str:
    """`text` with every secret of `config` masked (defence in depth for provider reasons)."""
    for name in (*SECRET_FIELDS, "access_key_id"):
        value = getattr(config, name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text
