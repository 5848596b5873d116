"""Storage servers for tests (a pytest plugin, registered in `tests/conftest.py`).

- `azurite` (session): a connection string for Azurite's Blob service, started for the
  session from `scripts/azurite` (`npm ci --prefix scripts/azurite`), or the one named by
  `AZURE_STORAGE_CONNECTION_STRING`. Without Azurite installed the tests that need it are
  skipped, except under CI (`CI` set), where that is an error.
- `azure_container`: a fresh, empty container per test (deleted afterwards).
- `s3_server` (session): the endpoint URL of a moto server (S3 in memory). Any access key
  works; use `S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY` and `S3_REGION`.
- `s3_bucket`: a fresh, empty bucket per test (emptied and deleted afterwards).

Helpers: `blob_key(tenant_id)` (a fresh key in the tenant's folder) and `stream_of(data)`.

The fixtures use the synchronous SDKs: they run outside the event loop.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import boto3
import pytest
from azure.core.exceptions import AzureError
from azure.storage.blob import BlobServiceClient

from tests.support.settings import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

import devservers

S3_ACCESS_KEY_ID = "parley-test-key"
S3_SECRET_ACCESS_KEY = "parley-test-secret"  # moto accepts any credentials
S3_REGION = "us-east-1"


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    if given:
        yield given
        return
    try:
        devservers.azurite_blob_bin()
    except FileNotFoundError as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    log = tmp_path_factory.mktemp("logs") / "azurite.log"
    server = devservers.start_azurite(log_file=str(log))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def azure_container(azurite: str) -> Iterator[str]:
    name = f"parley-{uuid.uuid4().hex[:20]}"
    with BlobServiceClient.from_connection_string(azurite) as service:
        service.create_container(name)
        try:
            yield name
        finally:
            with contextlib.suppress(AzureError):
                service.delete_container(name)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("logs") / "moto.log"
    server = devservers.start_moto(log_file=str(log))
    try:
        yield server.url
    finally:
        if (client := _S3_CLIENTS.pop(server.url, None)) is not None:
            client.close()
        server.stop()


_S3_CLIENTS: dict[str, Any] = {}


def s3_client(endpoint_url: str) -> Any:
    """A plain boto3 client for the test server (for arranging and inspecting), made once
    per endpoint (closed with the server): making one reads botocore's service model, a
    few tenths of a second; a client is thread-safe."""
    if endpoint_url not in _S3_CLIENTS:
        _S3_CLIENTS[endpoint_url] = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=S3_REGION,
            aws_access_key_id=S3_ACCESS_KEY_ID,
            aws_secret_access_key=S3_SECRET_ACCESS_KEY,
        )
    return _S3_CLIENTS[endpoint_url]


@pytest.fixture
def s3_bucket(s3_server: str) -> Iterator[str]:
    name = f"parley-{uuid.uuid4().hex[:20]}"
    client = s3_client(s3_server)
    client.create_bucket(Bucket=name)
    try:
        yield name
    finally:  # moto keeps everything in memory: give it back
        for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
            client.abort_multipart_upload(
                Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=name, Key=item["Key"])
        client.delete_bucket(Bucket=name)


def blob_key(tenant_id: str) -> str:
    """A fresh storage key in the tenant's folder, shaped like the ones uploads get."""
    return f"tenants/{tenant_id}/{uuid.uuid4().hex}"


async def stream_of(data: bytes, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """`data` as an upload stream, in chunks."""
    for start in range(0, len(data), chunk_size):
        yield data[start : start + chunk_size]
