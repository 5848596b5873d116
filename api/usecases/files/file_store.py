"""Storing files: the rules every stored file follows, for uploads and avatars alike.

- the content type is sniffed from the first bytes (the client's claim is not trusted)
  and checked against the allowed types before anything is stored (415);
- the bytes are streamed to the provider chunk by chunk, counted and hashed on the way;
  past the limit the upload stops (413) and the partial blob is deleted;
- the key is `tenants/{tenant_id}/{uuid}`, never the filename; the filename is sanitised
  and kept only as metadata;
- the metadata records the settings version used; when it cannot be written the blob is
  deleted, so a failed upload leaves neither an orphan blob nor metadata;
- with a malware scanner configured, the bytes are fed to it as they are stored (no
  second pass) and its verdict is read before the metadata is written: a threat found is
  422 `malware_detected` and the blob is deleted; a scanner that cannot be reached is 503
  and nothing is kept; a file larger than the scanner takes is 413. Parley's own files
  (exports, transcripts) are not scanned.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import uuid4

from pydantic import BaseModel

from api.common.behind import Behind
from api.domain.errors import (
    InvalidInput,
    MalwareDetected,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from api.domain.files.scanning import MalwareScan, MalwareScanner
from api.domain.files.storage import (
    DEFAULT_CONFIG_ID,
    BlobStorage,
    ContentSniffer,
    FileCatalog,
    FilenameSanitizer,
    SignedUrl,
    StorageConfig,
    StoredFile,
    default_config_ref,
)
from api.domain.tenancy import current_tenant
from api.usecases.files.rules import StoragePolicy
from api.usecases.files.storages import Storages
from api.usecases.kernel.clock import stored_now

log = logging.getLogger(__name__)


SNIFF_BYTES = 64 * 1024  # enough for every signature the sniffer knows
FILE_NOT_FOUND = "No such file."


@dataclass(frozen=True)
class Upload:
    """What a client sent: its filename and the bytes, in chunks (never all in memory)."""

    filename: str
    chunks: AsyncIterator[bytes]
    size_hint: int | None = None  # the size the transport already knows, if any


class FileWithUrl(BaseModel):
    file: StoredFile
    url: SignedUrl


HASH_BUFFER = 1024 * 1024  # bytes hashed per thread hop


class _Meter:
    """Counts and hashes the chunks passing through; stops past `limit` bytes.

    Counting is on the loop (the limit is checked before a chunk goes on); hashing is in
    a worker thread, a MiB at a time, one step behind, so it overlaps with receiving and
    writing instead of holding the loop (`sha256` is read after `stream` has ended)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.too_large = False
        self._sha256 = hashlib.sha256()
        self._hashing = Behind()
        self._buffer: list[bytes] = []
        self._buffered = 0

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    async def stream(self, head: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        try:
            for chunk in head:
                yield await self._count(chunk)
            async for chunk in rest:
                yield await self._count(chunk)
            await self._hash(final=True)
        finally:
            await self._hashing.settle()

    async def _count(self, chunk: bytes) -> bytes:
        self.size += len(chunk)
        if self.size > self.limit:
            self.too_large = True
            raise PayloadTooLarge(self.limit)
        self._buffer.append(chunk)
        self._buffered += len(chunk)
        if self._buffered >= HASH_BUFFER:
            await self._hash(final=False)
        return chunk

    async def _hash(self, *, final: bool) -> None:
        if self._buffer:
            chunks, self._buffer, self._buffered = self._buffer, [], 0
            await self._hashing.submit(_update, self._sha256, chunks)
        if final:
            await self._hashing.wait()


def _update(sha256: hashlib._Hash, chunks: list[bytes]) -> None:
    for chunk in chunks:
        sha256.update(chunk)


async def _read_head(chunks: AsyncIterator[bytes], want: int) -> list[bytes]:
    """The first chunks, until at least `want` bytes or the end."""
    head: list[bytes] = []
    have = 0
    while have < want:
        chunk = await anext(chunks, None)
        if chunk is None:
            break
        if chunk:
            head.append(chunk)
            have += len(chunk)
    return head


async def _scanned(chunks: AsyncIterator[bytes], scan: MalwareScan) -> AsyncIterator[bytes]:
    """The chunks, each fed to the scan before it goes on to the storage."""
    async for chunk in chunks:
        await scan.feed(chunk)
        yield chunk


async def _discard(storage: BlobStorage, key: str) -> None:
    """Delete a blob that must not stay; a failure here is logged, not raised."""
    try:
        await storage.delete(key)
    except Exception:  # the original error matters more to the caller
        log.warning("could not delete the blob of a failed upload; it is orphaned")


class FileStore:
    """Stores, signs and removes files of the current tenant (the rules are above)."""

    def __init__(
        self,
        storages: Storages,
        files: FileCatalog,
        sniff: ContentSniffer,
        sanitize: FilenameSanitizer,
        policy: StoragePolicy,
        scanner: MalwareScanner,
    ) -> None:
        self._storages = storages
        self._files = files
        self._sniff = sniff
        self._sanitize = sanitize
        self._policy = policy
        self._scanner = scanner

    async def store(
        self,
        upload: Upload,
        *,
        purpose: str,
        owner_id: str,
        allowed: frozenset[str],
        max_bytes: int,
        scan: bool = True,
    ) -> StoredFile:
        """Store one file by the rules above; `scan=False` for Parley's own files."""
        scan_limit = self._scanner.max_bytes if scan else None
        if scan_limit is not None:
            max_bytes = min(max_bytes, scan_limit)
        if upload.size_hint is not None and upload.size_hint > max_bytes:
            raise PayloadTooLarge(max_bytes)
        chunks = aiter(upload.chunks)
        head = await _read_head(chunks, SNIFF_BYTES)
        if not head:
            raise InvalidInput("The file is empty.")
        if sum(map(len, head)) > max_bytes:
            raise PayloadTooLarge(max_bytes)
        filename = self._sanitize(upload.filename)
        content_type = self._sniff(b"".join(head)[:SNIFF_BYTES], filename)
        if content_type is None or content_type not in allowed:
            raise UnsupportedMediaType(
                f"Files of this type ({content_type or 'unknown'}) cannot be uploaded here."
            )
        tenant_id = current_tenant()
        config, storage = await self._storages.current()
        key = f"tenants/{tenant_id}/{uuid4().hex}"
        scanning = await self._scanner.begin() if scan_limit is not None else None
        meter = _Meter(max_bytes)
        source = meter.stream(head, chunks)
        try:
            await storage.put(
                key, _scanned(source, scanning) if scanning else source, content_type=content_type
            )
            threat = await scanning.threat() if scanning else None
        except BaseException as exc:
            if scanning:
                await scanning.abort()
            await _discard(storage, key)
            if meter.too_large and not isinstance(exc, PayloadTooLarge):
                raise PayloadTooLarge(max_bytes) from None  # however the adapter wrapped it
            raise
        if threat is not None:
            await _discard(storage, key)
            log.warning("a %s file was refused: the malware scanner found %s", purpose, threat)
            raise MalwareDetected(threat)
        record = StoredFile(
            tenant_id=tenant_id, filename=filename, content_type=content_type,
            size=meter.size, sha256=meter.sha256, key=key,
            config_id=_config_ref(config), purpose=purpose, owner_id=owner_id,
            created_at=stored_now(),
        )  # fmt: skip
        try:
            return await self._files.add(record)
        except BaseException:
            await _discard(storage, key)
            raise

    async def find(self, file_id: str) -> StoredFile | None:
        return await self._files.get(file_id)

    async def get(self, file_id: str) -> StoredFile:
        file = await self._files.get(file_id)
        if file is None:
            raise NotFound(FILE_NOT_FOUND)
        return file

    async def signed_url(self, file: StoredFile) -> SignedUrl:
        storage = await self._storages.for_file(file)
        return await storage.signed_url(
            file.key,
            expires_in=self._policy.signed_url_ttl_seconds,
            filename=file.filename,
            content_type=file.content_type,
        )

    async def read(self, file: StoredFile, *, max_bytes: int) -> bytes:
        """The file's bytes (`PayloadTooLarge` past `max_bytes`)."""
        storage = await self._storages.for_file(file)
        chunks: list[bytes] = []
        size = 0
        async for chunk in storage.open(file.key):
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(max_bytes)
            chunks.append(chunk)
        return b"".join(chunks)

    async def remove(self, file: StoredFile) -> None:
        """The blob first, then the metadata (a failure leaves the file listed, retryable)."""
        assert file.id is not None  # noqa: S101 - stored files have ids
        await (await self._storages.for_file(file)).delete(file.key)
        await self._files.delete(file.id)


def _config_ref(config: StorageConfig) -> str:
    """The tenant's settings version, or the deployment default with its provider."""
    if config.id in (None, DEFAULT_CONFIG_ID):
        return default_config_ref(config.provider)
    return config.id or DEFAULT_CONFIG_ID
