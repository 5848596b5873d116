"""The blob storage adapters against real servers: local disk, Azurite (Azure), moto (S3).

Shared behaviour is parametrized over the three adapters. Signed URLs are fetched with
a plain HTTP client for Azure (SAS) and S3 (presigned); the local provider's links are
served by the files route (its signer: `tests/unit/test_local_download_links.py`).
Refused settings, outages and the factory: `test_blob_storage_errors.py`.
"""

from __future__ import annotations

import asyncio
import hashlib
import mmap
import os
import tracemalloc
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from api.common.clock import utcnow
from api.domain.errors import NotFound, ServiceUnavailable
from api.domain.files.storage import BlobStorage
from api.infrastructure.storage import local as local_module
from api.infrastructure.storage.azure import AzureBlobStorage
from api.infrastructure.storage.local import LocalBlobStorage, LocalUrlSigner
from api.infrastructure.storage.s3 import S3BlobStorage
from tests.support.storage_servers import (
    S3_ACCESS_KEY_ID,
    S3_REGION,
    S3_SECRET_ACCESS_KEY,
    blob_key,
    s3_client,
    stream_of,
)

TENANT = "tenant-alpha"
OTHER = "tenant-beta"
MiB = 1024 * 1024
CHUNK = 64 * 1024
# 17 distinct blocks, cycled: a lost, doubled or reordered chunk changes the hash.
BLOCKS = [hashlib.sha512(bytes([i])).digest() * (CHUNK // 64) for i in range(17)]
DOWNLOAD_URL = "https://parley.example.com/api/v1/files/download"
PROVIDERS = ["local", "azure", "s3"]


def new_key(tenant: str = TENANT) -> str:
    return blob_key(tenant)


async def pattern(size: int, digest: list[str] | None = None) -> AsyncIterator[bytes]:
    """`size` bytes of cycled blocks (no new allocations); the SHA-256 lands in `digest`."""
    sha = hashlib.sha256()
    sent = 0
    index = 0
    while sent < size:
        block = BLOCKS[index % len(BLOCKS)] if size - sent >= CHUNK else BLOCKS[0][: size - sent]
        sha.update(block)
        sent += len(block)
        index += 1
        yield block
    if digest is not None:
        digest.append(sha.hexdigest())


async def read_back(storage: BlobStorage, key: str) -> tuple[int, str]:
    sha = hashlib.sha256()
    size = 0
    async for chunk in storage.open(key):
        sha.update(chunk)
        size += len(chunk)
    return size, sha.hexdigest()


@pytest.fixture
def local_storage(tmp_path: Path) -> LocalBlobStorage:
    signer = LocalUrlSigner("test-download-secret")
    return LocalBlobStorage(
        tmp_path / "blobs", tenant_id=TENANT, signer=signer, download_url=DOWNLOAD_URL
    )


@pytest.fixture
def azure_storage(azurite: str, azure_container: str) -> AzureBlobStorage:
    return AzureBlobStorage(azurite, azure_container, tenant_id=TENANT)


@pytest.fixture
def s3_storage(s3_server: str, s3_bucket: str) -> S3BlobStorage:
    return S3BlobStorage(
        s3_bucket, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, s3_server, tenant_id=TENANT
    )


@pytest.fixture(params=PROVIDERS)
def storage(request: pytest.FixtureRequest) -> BlobStorage:
    fixture: BlobStorage = request.getfixturevalue(f"{request.param}_storage")
    return fixture


@pytest.mark.parametrize("size", [0, 1000])
async def test_small_round_trip(storage: BlobStorage, size: int) -> None:
    key = new_key()
    data = os.urandom(size)
    await storage.put(key, stream_of(data), content_type="application/octet-stream")
    assert b"".join([chunk async for chunk in storage.open(key)]) == data


async def test_large_round_trip_keeps_every_byte(storage: BlobStorage) -> None:
    key = new_key()
    sent: list[str] = []
    await storage.put(key, pattern(30 * MiB + 123, sent), content_type="application/pdf")
    assert await read_back(storage, key) == (30 * MiB + 123, sent[0])


async def test_a_second_put_replaces_the_blob(storage: BlobStorage) -> None:
    key = new_key()
    await storage.put(key, stream_of(b"first version"), content_type="text/plain")
    await storage.put(key, stream_of(b"second"), content_type="text/plain")
    assert b"".join([chunk async for chunk in storage.open(key)]) == b"second"


async def test_streaming_50_mb_keeps_memory_bounded(storage: BlobStorage) -> None:
    key = new_key()
    await storage.put(key, pattern(9 * MiB), content_type="application/pdf")  # warm up
    tracemalloc.start()
    try:
        await storage.put(key, pattern(50 * MiB), content_type="application/pdf")
        upload_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        size, _ = await read_back(storage, key)
        download_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert size == 50 * MiB
    assert upload_peak < 16 * MiB, f"upload peak {upload_peak / MiB:.1f} MiB"
    assert download_peak < 16 * MiB, f"download peak {download_peak / MiB:.1f} MiB"


async def test_a_failed_upload_leaves_the_previous_blob(storage: BlobStorage) -> None:
    key = new_key()
    await storage.put(key, stream_of(b"the original"), content_type="text/plain")

    async def breaks_midway() -> AsyncIterator[bytes]:
        async for chunk in pattern(10 * MiB):  # past the first block or part
            yield chunk
        raise RuntimeError("the client went away")

    with pytest.raises(RuntimeError, match="went away"):
        await storage.put(key, breaks_midway(), content_type="text/plain")
    assert b"".join([chunk async for chunk in storage.open(key)]) == b"the original"


async def test_a_failed_upload_leaves_no_temporary_file(local_storage: LocalBlobStorage) -> None:
    key = new_key()

    async def breaks() -> AsyncIterator[bytes]:
        yield b"x" * (3 * MiB)
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        await local_storage.put(key, breaks(), content_type="text/plain")
    assert list(local_storage.path_of(key).parent.iterdir()) == []


async def test_local_rename_failure_closes_once_and_leaves_nothing(
    local_storage: LocalBlobStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # fsynced and closed, then the rename fails: 503, no temporary file, and the descriptor
    # is closed once (a second close could hit a number reused by another open file).
    closed: list[int] = []
    real_close = os.close

    def counting_close(fd: int) -> None:
        closed.append(fd)
        real_close(fd)

    def failing_replace(source: object, target: object) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(os, "close", counting_close)
    monkeypatch.setattr(os, "replace", failing_replace)
    key = new_key()
    with pytest.raises(ServiceUnavailable):
        await local_storage.put(key, pattern(3 * MiB), content_type="application/pdf")
    assert len(closed) == len(set(closed)) == 1
    assert list(local_storage.path_of(key).parent.iterdir()) == []


async def test_local_writes_tiny_chunks_and_short_writes_exactly(
    local_storage: LocalBlobStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # More chunks in one batch than one writev takes, and a disk that writes at most
    # 1000 bytes a call: every byte still lands once, in order.
    real_writev = os.writev

    def short_writev(fd: int, buffers: list[bytes | memoryview]) -> int:
        assert len(buffers) <= 1024
        return real_writev(fd, [b"".join(bytes(b) for b in buffers)[:1000]])

    monkeypatch.setattr(os, "writev", short_writev)  # the adapter calls os.writev
    pieces = [bytes([i % 251]) * (i % 7 + 1) for i in range(3000)] + [os.urandom(MiB + 5)]

    async def chunks() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    key = new_key()
    await local_storage.put(key, chunks(), content_type="application/pdf")
    assert local_storage.path_of(key).read_bytes() == b"".join(pieces)


async def test_local_starts_writeback_in_whole_pages_as_it_goes(
    local_storage: LocalBlobStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[tuple[int, int]] = []
    monkeypatch.setattr(
        local_module, "_start_writeback", lambda fd, offset, n: started.append((offset, n))
    )
    size = 3 * local_module.WRITEBACK_EVERY + 12345
    key = new_key()
    await local_storage.put(key, pattern(size), content_type="application/pdf")
    assert len(started) == 3
    assert [offset for offset, _ in started] == [0, *(o + n for o, n in started[:-1])]
    assert all(n >= local_module.WRITEBACK_EVERY and n % mmap.PAGESIZE == 0 for _, n in started)
    assert local_storage.path_of(key).stat().st_size == size  # the rest: the final fsync


def test_local_writeback_starter_accepts_a_real_file(tmp_path: Path) -> None:
    with open(tmp_path / "blob", "wb") as file:
        file.write(b"x" * 3 * mmap.PAGESIZE)
        file.flush()
        local_module._writeback_starter()(file.fileno(), 0, 2 * mmap.PAGESIZE)  # no error
    assert (tmp_path / "blob").stat().st_size == 3 * mmap.PAGESIZE


async def test_a_failed_multipart_upload_is_aborted(
    s3_storage: S3BlobStorage, s3_server: str, s3_bucket: str
) -> None:
    async def breaks() -> AsyncIterator[bytes]:
        async for chunk in pattern(17 * MiB):
            yield chunk
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        await s3_storage.put(new_key(), breaks(), content_type="text/plain")
    assert s3_client(s3_server).list_multipart_uploads(Bucket=s3_bucket).get("Uploads") is None


async def test_reading_a_missing_blob_is_not_found(storage: BlobStorage) -> None:
    with pytest.raises(NotFound):
        async for _ in storage.open(new_key()):
            pass


async def test_delete_is_idempotent(storage: BlobStorage) -> None:
    key = new_key()
    await storage.put(key, stream_of(b"bye"), content_type="text/plain")
    await storage.delete(key)
    await storage.delete(key)
    await storage.delete(new_key())  # never existed
    with pytest.raises(NotFound):
        async for _ in storage.open(key):
            pass


@pytest.mark.parametrize(
    "key",
    [
        f"tenants/{OTHER}/abc",
        "../abc",
        f"/tenants/{TENANT}/abc",
        f"tenants/{TENANT}/../{OTHER}/abc",
        f"tenants/{TENANT}/",
        f"tenants/{TENANT}//abc",
        f"tenants/{TENANT}/a\\b",
        f"tenants/{TENANT}/a\x00b",
        "abc",
    ],
)
async def test_keys_outside_the_tenant_folder_are_refused(storage: BlobStorage, key: str) -> None:
    with pytest.raises(ValueError, match="storage key"):
        await storage.put(key, stream_of(b"x"), content_type="text/plain")
    with pytest.raises(ValueError, match="storage key"):
        await storage.delete(key)
    with pytest.raises(ValueError, match="storage key"):
        await storage.signed_url(key, expires_in=60, filename="a.txt", content_type="text/plain")
    with pytest.raises(ValueError, match="storage key"):
        async for _ in storage.open(key):
            pass


async def test_check_passes_with_good_settings(storage: BlobStorage) -> None:
    await storage.check()


@pytest.fixture(params=["azure", "s3"])
def cloud_storage(request: pytest.FixtureRequest) -> BlobStorage:
    fixture: BlobStorage = request.getfixturevalue(f"{request.param}_storage")
    return fixture


async def test_signed_url_serves_the_bytes_with_name_and_type(cloud_storage: BlobStorage) -> None:
    key = new_key()
    data = os.urandom(300_000)
    await cloud_storage.put(key, stream_of(data), content_type="application/octet-stream")
    before = utcnow()
    signed = await cloud_storage.signed_url(
        key, expires_in=300, filename="Résumé 2026.pdf", content_type="application/pdf"
    )
    assert timedelta(seconds=298) <= signed.expires_at - before <= timedelta(seconds=302)
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(signed.url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="Resume 2026.pdf"')
    assert "filename*=UTF-8''R%C3%A9sum%C3%A9%202026.pdf" in disposition


async def test_expired_or_tampered_sas_is_refused(azure_storage: AzureBlobStorage) -> None:
    key, other = new_key(), new_key()
    for name in (key, other):
        await azure_storage.put(name, stream_of(b"secret bytes"), content_type="text/plain")
    signed = await azure_storage.signed_url(
        key, expires_in=1, filename="a.txt", content_type="text/plain"
    )
    async with httpx.AsyncClient(timeout=10) as client:
        moved = signed.url.replace(key.rsplit("/", 1)[1], other.rsplit("/", 1)[1])
        assert (await client.get(moved)).status_code == 403  # bound to its blob
        await asyncio.sleep((signed.expires_at - utcnow()).total_seconds() + 1.5)
        assert (await client.get(signed.url)).status_code == 403  # expired


async def test_presigned_url_signs_its_lifetime_and_overrides(s3_storage: S3BlobStorage) -> None:
    # moto 5.2 enforces neither presigned expiry nor signatures (checked in its source), so
    # this checks what S3 enforces: the lifetime and overrides are in the signed query.
    signed = await s3_storage.signed_url(
        new_key(), expires_in=1, filename="a.txt", content_type="text/plain"
    )
    query = parse_qs(urlsplit(signed.url).query)
    assert query["X-Amz-Expires"] == ["1"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["response-content-type"] == ["text/plain"]
    assert query["response-content-disposition"] == ['attachment; filename="a.txt"']
    assert S3_SECRET_ACCESS_KEY not in signed.url
