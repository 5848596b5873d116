"""Blobs on the local disk, and the signed links that let a browser download them.

Files live at `root/<key>` (keys are `tenants/{tenant_id}/{uuid}`). A write goes to a
temporary file in the same folder, is fsynced, then `os.replace`d over the target, so a
reader sees the old file or the new one, never half of one. All disk I/O runs in worker
threads: an upload's chunks are written a MiB at a time while the next MiB arrives, with
the kernel asked to start writing them to disk as they go (see `_BlobFile`); reads come
back in 1 MiB chunks.

Signed download links (the local provider has no server of its own to sign for it)::

    {PUBLIC_BASE_URL}{API_PREFIX}/files/download
        ?tenant={tenant_id}&key={key}&exp={unix seconds}
        &filename={filename}&type={content type}&sig={signature}

`sig` is url-safe base64 (no padding) of HMAC-SHA256 over the canonical JSON list
`["parley.local-download.v1", tenant, key, exp, filename, type]`, keyed with a key
derived from the signer's secret. The link is its own credential (no bearer token, no
tenant header), bound to the tenant and to the key: the key must lie under
`tenants/{tenant}/`, and changing any parameter breaks the signature. The route does::

    download = signer.verify_query(request.query_params)  # or signer.verify(...)
    storage = factory.for_config(StorageConfig(provider=LOCAL), tenant_id=download.tenant_id)
    chunks = storage.open(download.key)  # NotFound comes with the first chunk

and answers with `download.content_type` and a Content-Disposition naming
`download.filename`. `verify` raises `Forbidden` for a tampered, malformed or expired link.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import hashlib
import hmac
import json
import mmap
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from api.common.behind import Behind
from api.domain.errors import Forbidden, NotFound, ServiceUnavailable
from api.domain.files.storage import SignedUrl
from api.infrastructure.storage import check_tenant_key, tenant_prefix

LOCAL_DOWNLOAD_ROUTE = "/files/download"  # under API_PREFIX: the route that serves the links
READ_CHUNK = 1024 * 1024  # one thread hop per MiB (64 KiB made downloads 3x slower)
_WRITE_BATCH = 1024 * 1024  # chunks gathered into one thread hop (and one writev)
WRITEBACK_EVERY = 8 * 1024 * 1024  # bytes written before the kernel is asked to flush them
_SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>: start writeback of dirty pages, do not wait
_IOV_MAX = max(os.sysconf("SC_IOV_MAX"), 16)  # buffers per writev (1024 on Linux and macOS)
_SIGNATURE_CONTEXT = "parley.local-download.v1"
_QUERY_FIELDS = ("tenant", "key", "exp", "filename", "type", "sig")


@dataclass(frozen=True)
class LocalDownload:
    """A verified download link: what to stream, and how to label it."""

    tenant_id: str
    key: str
    filename: str
    content_type: str
    expires: int


class LocalUrlSigner:
    """Signs and verifies local download links (HMAC-SHA256, constant-time compare)."""

    def __init__(self, secret: str, *, clock: Callable[[], float] = time.time) -> None:
        if not secret:
            raise ValueError("the download-link secret must not be empty")
        # A key of its own, so reusing another secret here cannot forge anything else.
        self._key = hmac.new(secret.encode(), _SIGNATURE_CONTEXT.encode(), "sha256").digest()
        self._clock = clock

    def now(self) -> int:
        return int(self._clock())

    def sign(
        self, *, tenant_id: str, key: str, expires: int, filename: str, content_type: str
    ) -> str:
        message = json.dumps(
            [_SIGNATURE_CONTEXT, tenant_id, key, int(expires), filename, content_type],
            ensure_ascii=True,
            separators=(",", ":"),
        ).encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def query(
        self, *, tenant_id: str, key: str, expires: int, filename: str, content_type: str
    ) -> dict[str, str]:
        """The link's query parameters, signature included."""
        check_tenant_key(key, tenant_id)
        signature = self.sign(
            tenant_id=tenant_id,
            key=key,
            expires=expires,
            filename=filename,
            content_type=content_type,
        )
        values = (tenant_id, key, str(int(expires)), filename, content_type, signature)
        return dict(zip(_QUERY_FIELDS, values, strict=True))

    def verify(
        self,
        *,
        tenant_id: str,
        key: str,
        expires: int,
        filename: str,
        content_type: str,
        signature: str,
    ) -> None:
        """Return if the link is authentic and unexpired; raise `Forbidden` otherwise."""
        expected = self.sign(
            tenant_id=tenant_id,
            key=key,
            expires=expires,
            filename=filename,
            content_type=content_type,
        )
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise Forbidden("This download link is not valid.")
        try:
            check_tenant_key(key, tenant_id)
        except ValueError:
            raise Forbidden("This download link is not valid.") from None
        if self.now() >= expires:
            raise Forbidden("This download link has expired.")

    def verify_query(self, params: Mapping[str, str]) -> LocalDownload:
        """Verify a link from its query parameters (`tenant`, `key`, `exp`, ... `sig`)."""
        values = [params.get(name) for name in _QUERY_FIELDS]
        tenant, key, exp, filename, content_type, signature = values
        if (
            tenant is None
            or key is None
            or exp is None
            or filename is None
            or content_type is None
            or signature is None
            or not exp.isdigit()
            or len(exp) > 12
        ):
            raise Forbidden("This download link is not valid.")
        expires = int(exp)
        self.verify(
            tenant_id=tenant,
            key=key,
            expires=expires,
            filename=filename,
            content_type=content_type,
            signature=signature,
        )
        return LocalDownload(tenant, key, filename, content_type, expires)


def local_download_url(public_base_url: str, api_prefix: str) -> str:
    """The absolute URL of the route that serves local download links."""
    return f"{public_base_url.rstrip('/')}{api_prefix.rstrip('/')}{LOCAL_DOWNLOAD_ROUTE}"


class LocalBlobStorage:
    """`BlobStorage` on a local directory, for one tenant."""

    def __init__(
        self,
        root: Path | str,
        *,
        tenant_id: str,
        signer: LocalUrlSigner,
        download_url: str,
    ) -> None:
        """`download_url`: the absolute URL of the route serving the links,
        `{PUBLIC_BASE_URL}{API_PREFIX}/files/download` (see `local_download_url`)."""
        self._root = Path(root).absolute()
        self._tenant_id = tenant_id
        self._prefix = tenant_prefix(tenant_id)
        self._signer = signer
        self._download_url = download_url

    def path_of(self, key: str) -> Path:
        """Where `key` lives on disk (ValueError for a key outside the tenant's folder)."""
        check_tenant_key(key, self._tenant_id)
        path = Path(os.path.normpath(self._root / key))
        if not path.is_relative_to(self._root / self._prefix):
            raise ValueError("the storage key is not in this tenant's folder")
        return path

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, content_type: str) -> None:
        path = self.path_of(key)
        try:
            blob = await asyncio.to_thread(_BlobFile.create, path.parent)
        except OSError as exc:
            raise ServiceUnavailable("file storage") from exc
        done = False
        writing = Behind()  # a batch written in a thread while the next one arrives
        try:
            batch: list[bytes] = []
            batched = 0
            async for chunk in chunks:
                batch.append(chunk)  # kept as they came: the thread writes them (writev)
                batched += len(chunk)
                if batched >= _WRITE_BATCH:
                    await writing.submit(blob.write, batch)
                    batch, batched = [], 0
            if batch:
                await writing.submit(blob.write, batch)
            await writing.wait()
            await asyncio.to_thread(blob.commit, path)
            done = True
        except OSError as exc:
            raise ServiceUnavailable("file storage") from exc
        finally:
            if not done:  # also on cancellation: never leave a temporary file behind
                await writing.settle()  # not under a write still running
                blob.discard()

    async def open(self, key: str) -> AsyncIterator[bytes]:
        path = self.path_of(key)
        try:
            file = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound("File not found.") from None
        except OSError as exc:
            raise ServiceUnavailable("file storage") from exc
        try:
            while chunk := await asyncio.to_thread(file.read, READ_CHUNK):
                yield chunk
        finally:
            file.close()

    async def delete(self, key: str) -> None:
        path = self.path_of(key)
        try:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        except OSError as exc:
            raise ServiceUnavailable("file storage") from exc

    async def signed_url(
        self, key: str, *, expires_in: int, filename: str, content_type: str
    ) -> SignedUrl:
        expires = self._signer.now() + expires_in
        query = self._signer.query(
            tenant_id=self._tenant_id,
            key=key,
            expires=expires,
            filename=filename,
            content_type=content_type,
        )
        url = f"{self._download_url}?{urlencode(query, quote_via=quote)}"
        return SignedUrl(url=url, expires_at=datetime.fromtimestamp(expires, UTC))

    async def check(self) -> None:
        key = f"{self._prefix}.probe-{uuid.uuid4().hex}"
        payload = b"parley storage probe"

        async def probe() -> AsyncIterator[bytes]:
            yield payload

        await self.put(key, probe(), content_type="text/plain")
        try:
            read = b"".join([chunk async for chunk in self.open(key)])
        finally:
            await self.delete(key)
        if read != payload:
            raise ServiceUnavailable("file storage", detail="The storage probe read back wrong.")


class _BlobFile:
    """The temporary file an upload is written to, then fsynced and renamed over the key.

    `write` runs in a worker thread: the chunks go to the file as they came (one `writev`,
    no copy into a buffer first), and every `WRITEBACK_EVERY` bytes the kernel is asked to
    start writing them to disk (`sync_file_range`, Linux; elsewhere nothing), so the fsync
    of `commit` finds the tail left rather than the whole file. Durability is unchanged:
    `commit` fsyncs before the rename, and the upload is answered after it."""

    def __init__(self, fd: int, temp: str) -> None:
        self._fd = fd
        self._temp = temp
        self._written = 0
        self._flushed = 0  # where the last writeback started ends

    @classmethod
    def create(cls, folder: Path) -> _BlobFile:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
        return cls(fd, temp)

    def write(self, chunks: list[bytes]) -> None:
        pending: list[bytes | memoryview] = list(chunks)
        while pending:
            wrote = os.writev(self._fd, pending[:_IOV_MAX])
            self._written += wrote
            pending = _after(pending, wrote)
        if self._written - self._flushed >= WRITEBACK_EVERY:
            # Whole pages only: the next write may still fill the last one, and a page
            # under writeback can make that write wait (stable-page devices).
            end = self._written - self._written % mmap.PAGESIZE
            _start_writeback(self._fd, self._flushed, end - self._flushed)
            self._flushed = end

    def commit(self, path: Path) -> None:
        try:
            os.fsync(self._fd)
        finally:
            self._close()
        os.replace(self._temp, path)

    def discard(self) -> None:
        """Close and remove an unfinished upload (two quick syscalls, run inline on failure)."""
        with contextlib.suppress(OSError):
            self._close()
        with contextlib.suppress(OSError):
            os.unlink(self._temp)

    def _close(self) -> None:
        """Close once: a second `os.close` could close a descriptor reused elsewhere."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


def _after(buffers: list[bytes | memoryview], count: int) -> list[bytes | memoryview]:
    """What is left of `buffers` once their first `count` bytes are written."""
    for index, buffer in enumerate(buffers):
        if count < len(buffer):
            return [memoryview(buffer)[count:], *buffers[index + 1 :]]
        count -= len(buffer)
    return []


def _writeback_starter() -> Callable[[int, int, int], None]:
    """`start(fd, offset, length)`: begin writing that range of the file to disk without
    waiting for it (Linux's `sync_file_range(SYNC_FILE_RANGE_WRITE)`). Advisory: where it
    is missing, or fails, nothing is done and the final fsync writes (and reports) all."""
    sync_file_range = None
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            sync_file_range = ctypes.CDLL(None, use_errno=True).sync_file_range
    if sync_file_range is None:
        return lambda fd, offset, length: None
    sync_file_range.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    sync_file_range.restype = ctypes.c_int
    function = sync_file_range  # bound for the closure (mypy: not None from here on)

    def start(fd: int, offset: int, length: int) -> None:
        function(fd, offset, length, _SYNC_FILE_RANGE_WRITE)  # ctypes drops the GIL

    return start


_start_writeback = _writeback_starter()
