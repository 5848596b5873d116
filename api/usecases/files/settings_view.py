"""The tenant's storage settings as clients see them: secrets never shown."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from api.domain.files.storage import DEFAULT_CONFIG_ID, StorageConfig, StorageProvider
from api.usecases.files.rules import PUBLIC_FIELDS, StoragePolicy


class StorageSettingsView(BaseModel):
    """The tenant's storage settings as clients see them: no secret, only `has_secret`."""

    provider: StorageProvider
    container: str | None = None
    bucket: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    has_secret: bool
    is_default: bool
    updated_at: datetime | None = None
    max_upload_bytes: int
    allowed_content_types: list[str]


def settings_view(config: StorageConfig, policy: StoragePolicy) -> StorageSettingsView:
    is_default = config.id in (None, DEFAULT_CONFIG_ID)
    shown: dict[str, Any] = {"provider": config.provider}
    if not is_default:  # the deployment's own buckets and endpoints are not the tenant's
        shown.update({name: getattr(config, name) for name in PUBLIC_FIELDS})
    return StorageSettingsView(
        **shown,
        has_secret=config.has_secret and not is_default,
        is_default=is_default,
        updated_at=None if is_default else config.created_at,
        max_upload_bytes=policy.max_upload_bytes,
        allowed_content_types=sorted(policy.allowed_content_types),
    )
