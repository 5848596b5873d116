"""The rules of the files context: the deployment's file policy, and which storage
settings each provider takes (required, allowed, public, secret)."""

from __future__ import annotations

from dataclasses import dataclass

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
