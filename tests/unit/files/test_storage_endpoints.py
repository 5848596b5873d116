"""Which addresses a tenant's own storage may point Parley at (the SSRF guard)."""

from __future__ import annotations

import pytest

from api.domain.errors import InvalidInput
from api.domain.files.storage import StorageConfig, StorageProvider
from api.usecases.files.rules import (
    StoragePolicy,
    azure_blob_endpoint,
    check_endpoint,
    endpoint_allowed,
)

ALLOWED = frozenset({"https://minio.internal.example:9000", "http://127.0.0.1"})
POLICY = StoragePolicy(
    max_upload_bytes=1024,
    max_avatar_bytes=1024,
    allowed_content_types=frozenset({"text/plain"}),
    signed_url_ttl_seconds=60,
    allowed_endpoints=ALLOWED,
)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://minio.internal.example:9000", True),
        ("https://MINIO.internal.example:9000/bucket", True),
        ("https://minio.internal.example:9001", False),  # another port of a pinned entry
        ("http://minio.internal.example:9000", False),  # another scheme
        ("http://127.0.0.1:4566", True),  # an entry without a port: any port
        ("http://127.0.0.2:4566", False),
        ("http://169.254.169.254/latest/meta-data", False),
        ("http://localhost:4566", False),  # names compare as written, not as resolved
        ("ftp://127.0.0.1", False),
        ("http://127.0.0.1:notaport", False),
        ("", False),
    ],
)
def test_an_endpoint_is_allowed_only_by_its_origin(url: str, allowed: bool) -> None:
    assert endpoint_allowed(url, ALLOWED) is allowed


def test_the_blob_endpoint_a_connection_string_reaches() -> None:
    assert azure_blob_endpoint("AccountName=a;AccountKey=k;EndpointSuffix=core.windows.net") is None
    assert (
        azure_blob_endpoint("AccountName=a;AccountKey=k;BlobEndpoint=http://10.0.0.5:10000/a")
        == "http://10.0.0.5:10000/a"
    )
    assert azure_blob_endpoint("UseDevelopmentStorage=true") == "http://127.0.0.1:10000"


def s3(endpoint: str | None) -> StorageConfig:
    return StorageConfig(
        provider=StorageProvider.S3, bucket="b", region="r", access_key_id="k",
        secret_access_key="s", endpoint_url=endpoint,
    )  # fmt: skip


def azure(connection_string: str) -> StorageConfig:
    return StorageConfig(
        provider=StorageProvider.AZURE_BLOB, connection_string=connection_string, container="c"
    )


def test_allowed_settings_pass() -> None:
    for config in (
        s3(None),  # AWS itself
        s3("https://minio.internal.example:9000"),
        azure("AccountName=a;AccountKey=k"),
        azure("AccountName=a;AccountKey=k;EndpointSuffix=core.chinacloudapi.cn"),
        azure("AccountName=a;AccountKey=k;BlobEndpoint=http://127.0.0.1:10000/a"),
        StorageConfig(provider=StorageProvider.LOCAL),
    ):
        check_endpoint(config, POLICY)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (s3("http://169.254.169.254"), "endpoint_url"),
        (s3("http://10.0.0.5:9000"), "endpoint_url"),
        (azure("AccountName=a;AccountKey=k;BlobEndpoint=http://10.0.0.5/a"), "connection_string"),
        (azure("AccountName=a;AccountKey=k;EndpointSuffix=evil.example"), "connection_string"),
    ],
)
def test_other_endpoints_are_refused_naming_the_field(config: StorageConfig, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_endpoint(config, POLICY)
    assert [p.loc for p in refused.value.problems] == [(field,)]
    assert "STORAGE_ALLOWED_ENDPOINTS" in refused.value.problems[0].msg
