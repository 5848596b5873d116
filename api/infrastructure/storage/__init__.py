"""Blob storage adapters (local disk, Azure Blob, S3) and the rule they all share.

Every adapter is bound to one tenant and only touches keys under `tenants/{tenant_id}/`;
`check_tenant_key` enforces that before any I/O. The adapters themselves live in
`local`, `azure` and `s3` (imported on demand: the Azure and AWS SDKs are heavy), the
factory that picks one in `factory`, content sniffing and filename rules in `sniff`.
"""

from __future__ import annotations

__all__ = ["check_tenant_id", "check_tenant_key", "tenant_prefix"]


def check_tenant_id(tenant_id: str) -> str:
    """The tenant id, if it can name a key folder (no separators, not `.`/`..`)."""
    if (
        not tenant_id
        or tenant_id in {".", ".."}
        or any(c in tenant_id for c in "/\\\x00")
        or not tenant_id.isprintable()
    ):
        raise ValueError("the tenant id cannot be used in a storage key")
    return tenant_id


def tenant_prefix(tenant_id: str) -> str:
    return f"tenants/{check_tenant_id(tenant_id)}/"


def check_tenant_key(key: str, tenant_id: str) -> str:
    """`key` if it is a plain relative path under `tenants/{tenant_id}/`, else ValueError.

    Refused: absolute paths, backslashes, NUL and control characters, empty, `.` or `..`
    segments, and anything outside the tenant's folder.
    """
    prefix = tenant_prefix(tenant_id)
    if not key.startswith(prefix) or len(key) == len(prefix) or len(key) > 1024:
        raise ValueError("the storage key is not in this tenant's folder")
    if "\\" in key or not key.isprintable():
        raise ValueError("the storage key contains forbidden characters")
    if any(part in {"", ".", ".."} for part in key.split("/")):
        raise ValueError("the storage key is not a plain relative path")
    return key
