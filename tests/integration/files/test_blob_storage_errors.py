"""Storage adapters refusing bad settings and surviving outages; the deployment factory.

Messages must name the reason and never a secret; an unreachable provider must answer
`ServiceUnavailable` within seconds (short client timeouts, one retry).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import devservers
import pytest

from api.config import StorageSettings
from api.domain.errors import InvalidInput, ServiceUnavailable
from api.domain.files.storage import DEFAULT_CONFIG_ID, BlobStorage, StorageConfig, StorageProvider
from api.infrastructure.storage.azure import AzureBlobStorage
from api.infrastructure.storage.factory import DeploymentBlobStorageFactory
from api.infrastructure.storage.local import LocalUrlSigner
from api.infrastructure.storage.s3 import S3BlobStorage
from tests.support.storage_servers import (
    S3_ACCESS_KEY_ID,
    S3_REGION,
    S3_SECRET_ACCESS_KEY,
    blob_key,
    stream_of,
)

TENANT = "tenant-alpha"
DOWNLOAD_URL = "https://parley.example.com/api/v1/files/download"


def new_key() -> str:
    return blob_key(TENANT)


def _wrong_key(connection_string: str) -> str:
    wrong = "A" * 86 + "=="
    parts = [
        f"AccountKey={wrong}" if part.startswith("AccountKey=") else part
        for part in connection_string.split(";")
    ]
    return ";".join(parts)


async def test_azure_check_refuses_a_wrong_key(azurite: str, azure_container: str) -> None:
    wrong = _wrong_key(azurite)
    with pytest.raises(InvalidInput, match="Azure Blob refused these settings") as caught:
        await AzureBlobStorage(wrong, azure_container, tenant_id=TENANT).check()
    assert "A" * 20 not in str(caught.value)
    assert devservers.AZURITE_KEY not in str(caught.value)


@pytest.mark.parametrize(
    ("container", "connection", "reason"),
    [
        ("Bad_Container!", None, "container name is not valid"),
        ("ab", None, "container name is not valid"),
        ("parley", "not a connection string", "connection string is malformed"),
    ],
)
async def test_azure_check_refuses_bad_settings(
    azurite: str, container: str, connection: str | None, reason: str
) -> None:
    storage = AzureBlobStorage(connection or azurite, container, tenant_id=TENANT)
    with pytest.raises(InvalidInput, match=reason) as caught:
        await storage.check()
    assert devservers.AZURITE_KEY not in str(caught.value)


async def test_azure_check_creates_a_missing_container(azurite: str) -> None:
    container = f"parley-new-{uuid.uuid4().hex[:12]}"
    storage = AzureBlobStorage(azurite, container, tenant_id=TENANT)
    with pytest.raises(InvalidInput, match="container does not exist"):
        await storage.put(new_key(), stream_of(b"x"), content_type="text/plain")
    await storage.check()
    key = new_key()
    await storage.put(key, stream_of(b"now it works"), content_type="text/plain")
    assert b"".join([chunk async for chunk in storage.open(key)]) == b"now it works"


@pytest.mark.parametrize(
    ("bucket", "endpoint", "reason"),
    [
        (f"parley-missing-{uuid.uuid4().hex[:12]}", None, "bucket does not exist"),
        ("Bad_Bucket!", None, "not valid"),
        ("parley", "not a url", "endpoint URL or region is not valid"),
        ("parley", "ftp://example.com", "endpoint URL or region is not valid"),
    ],
    ids=["missing-bucket", "invalid-bucket-name", "endpoint-not-a-url", "ftp-endpoint"],
)
async def test_s3_check_refuses_bad_settings(
    s3_server: str, bucket: str, endpoint: str | None, reason: str
) -> None:
    storage = S3BlobStorage(
        bucket,
        S3_REGION,
        S3_ACCESS_KEY_ID,
        S3_SECRET_ACCESS_KEY,
        endpoint or s3_server,
        tenant_id=TENANT,
    )
    with pytest.raises(InvalidInput, match=reason) as caught:
        await storage.check()
    assert S3_SECRET_ACCESS_KEY not in str(caught.value)


@pytest.fixture
def s3_with_auth(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server that checks access keys (IAM auth on from the first request)."""
    monkeypatch.setenv("INITIAL_NO_AUTH_ACTION_COUNT", "0")
    server = devservers.start_moto()
    monkeypatch.delenv("INITIAL_NO_AUTH_ACTION_COUNT")
    try:
        yield server.url
    finally:
        server.stop()


async def test_s3_refuses_unknown_credentials(s3_with_auth: str) -> None:
    secret = "wrong-secret-value-1234"
    storage = S3BlobStorage(
        "parley-any", S3_REGION, "AKIAUNKNOWNKEY000000", secret, s3_with_auth, tenant_id=TENANT
    )
    with pytest.raises(InvalidInput, match="S3 refused these settings: access denied") as check:
        await storage.check()  # HeadBucket: a bare 403
    with pytest.raises(InvalidInput, match="authentication failed") as put:
        await storage.put(new_key(), stream_of(b"x"), content_type="text/plain")
    for caught in (check, put):
        assert secret not in str(caught.value)
        assert "AKIAUNKNOWNKEY000000" not in str(caught.value)


@pytest.fixture(params=["azure", "s3"])
def unreachable_storage(request: pytest.FixtureRequest) -> BlobStorage:
    port = devservers.free_port()  # nothing listens there
    if request.param == "azure":
        return AzureBlobStorage(
            devservers.azurite_connection_string(port), "parley", tenant_id=TENANT
        )
    return S3BlobStorage(
        "parley", S3_REGION, "key", "secret", f"http://127.0.0.1:{port}", tenant_id=TENANT
    )


async def test_an_unreachable_provider_is_unavailable_quickly(
    unreachable_storage: BlobStorage,
) -> None:
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as caught:
        await unreachable_storage.check()
    with pytest.raises(ServiceUnavailable):
        await unreachable_storage.put(new_key(), stream_of(b"x"), content_type="text/plain")
    with pytest.raises(ServiceUnavailable):
        async for _ in unreachable_storage.open(new_key()):
            pass
    with pytest.raises(ServiceUnavailable):
        await unreachable_storage.delete(new_key())
    assert time.monotonic() - started < 10  # four calls, each within a few seconds
    assert caught.value.service == "file storage"


# -- the factory -------------------------------------------------------------------------


def _factory(**settings: Any) -> DeploymentBlobStorageFactory:
    return DeploymentBlobStorageFactory(
        StorageSettings(_env_file=None, **settings),
        local_signer=LocalUrlSigner("s3cret"),
        local_download_url=DOWNLOAD_URL,
    )


def test_factory_offers_what_the_deployment_configured() -> None:
    assert _factory().available() == [
        (StorageProvider.LOCAL, True),
        (StorageProvider.AZURE_BLOB, False),
        (StorageProvider.S3, False),
    ]
    configured = _factory(azure_storage_connection_string="x", aws_s3_bucket="b").available()
    assert [ok for _, ok in configured] == [True, True, True]
    assert _factory().default_config() == StorageConfig(
        id=DEFAULT_CONFIG_ID, provider=StorageProvider.LOCAL
    )


async def test_factory_builds_the_deployment_defaults(
    tmp_path: Path, azurite: str, azure_container: str, s3_server: str, s3_bucket: str
) -> None:
    common = {
        "local_storage_dir": str(tmp_path),
        "azure_storage_connection_string": azurite,
        "azure_storage_container": azure_container,
        "aws_access_key_id": S3_ACCESS_KEY_ID,
        "aws_secret_access_key": S3_SECRET_ACCESS_KEY,
        "aws_s3_bucket": s3_bucket,
        "aws_s3_endpoint_url": s3_server,
    }
    for provider in StorageProvider:
        factory = _factory(storage_default_provider=provider.value, **common)
        config = factory.default_config()
        assert (config.id, config.provider) == (DEFAULT_CONFIG_ID, provider)
        storage = factory.for_config(config, tenant_id=TENANT)
        key = new_key()
        await storage.put(key, stream_of(provider.value.encode()), content_type="text/plain")
        assert b"".join([c async for c in storage.open(key)]) == provider.value.encode()
    assert (tmp_path / f"tenants/{TENANT}").is_dir()


def test_factory_refuses_incomplete_configs() -> None:
    factory = _factory()
    with pytest.raises(InvalidInput, match="connection string"):
        factory.for_config(StorageConfig(provider=StorageProvider.AZURE_BLOB), tenant_id=TENANT)
    with pytest.raises(InvalidInput, match="bucket"):
        factory.for_config(StorageConfig(provider=StorageProvider.S3), tenant_id=TENANT)
