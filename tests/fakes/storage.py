"""Fakes of the file storage ports: provider locations (blobs) and the factory that builds
them, storage settings versions, file metadata, the content sniffer and filename sanitizer,
and the local provider's signed download links."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from api.domain.errors import Forbidden, NotFound, PayloadTooLarge, ServiceUnavailable
from api.domain.files.downloads import DownloadLinks
from api.domain.files.scanning import MalwareScan, MalwareScanner
from api.domain.files.storage import (
    DEFAULT_CONFIG_ID,
    BlobStorage,
    BlobStorageFactory,
    FileCatalog,
    SignedUrl,
    StorageConfig,
    StorageConfigRepository,
    StorageProvider,
    StoredFile,
)
from api.usecases.kernel.clock import stored_now


def sniff(head: bytes, filename: str) -> str | None:
    """A `ContentSniffer` that knows PNG, Windows executables and ASCII text."""
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head.startswith(b"MZ"):
        return "application/x-msdownload"
    return "text/plain" if head.isascii() else None


def sanitize(name: str) -> str:
    """A `FilenameSanitizer` that keeps the last path part."""
    return name.replace("\\", "/").rsplit("/", 1)[-1] or "file"


class FakeBlobs(BlobStorage):
    """One provider location: blobs by key, and what happened to them."""

    def __init__(self, name: str, *, fail_put: Exception | None = None) -> None:
        self.name = name
        self.blobs: dict[str, bytes] = {}
        self.deleted: list[str] = []
        self.fail_put = fail_put
        self.refuse_check: Exception | None = None
        self.checked = 0

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, content_type: str) -> None:
        data = bytearray()
        try:
            async for chunk in chunks:
                data += chunk
                self.blobs[key] = bytes(data)  # a partial blob exists while streaming
        except PayloadTooLarge as exc:
            if self.fail_put is not None:  # an adapter that wraps every error it sees
                raise self.fail_put from exc
            raise
        if self.fail_put is not None:
            raise self.fail_put

    async def open(self, key: str) -> AsyncIterator[bytes]:
        if key not in self.blobs:
            raise NotFound("gone")
        yield self.blobs[key]

    async def delete(self, key: str) -> None:
        self.deleted.append(key)
        self.blobs.pop(key, None)

    async def signed_url(
        self, key: str, *, expires_in: int, filename: str, content_type: str
    ) -> SignedUrl:
        return SignedUrl(url=f"{self.name}://{key}?ttl={expires_in}", expires_at=stored_now())

    async def check(self) -> None:
        self.checked += 1
        if self.refuse_check is not None:
            raise self.refuse_check


class FakeFactory(BlobStorageFactory):
    """One `FakeBlobs` per provider (the same one for every tenant); local and S3 offered,
    S3 not configured."""

    def __init__(self) -> None:
        self.locations = {p: FakeBlobs(p.value) for p in StorageProvider}
        self.built: list[tuple[StorageConfig, str]] = []

    def for_config(self, config: StorageConfig, *, tenant_id: str) -> FakeBlobs:
        self.built.append((config, tenant_id))
        return self.locations[config.provider]

    def default_config(self, provider: StorageProvider | None = None) -> StorageConfig:
        return StorageConfig(id=DEFAULT_CONFIG_ID, provider=provider or StorageProvider.LOCAL)

    def available(self) -> list[tuple[StorageProvider, bool]]:
        return [(StorageProvider.LOCAL, True), (StorageProvider.S3, False)]


class FakeConfigs(StorageConfigRepository):
    """Storage settings versions; the last one added is the current one."""

    def __init__(self) -> None:
        self.versions: list[StorageConfig] = []

    async def current(self) -> StorageConfig | None:
        return self.versions[-1] if self.versions else None

    async def get(self, config_id: str) -> StorageConfig | None:
        return next((c for c in self.versions if c.id == config_id), None)

    async def add(self, config: StorageConfig) -> StorageConfig:
        stored = config.model_copy(update={"id": f"c{len(self.versions)}"})
        self.versions.append(stored)
        return stored


class FakeFiles(FileCatalog):
    """File metadata by id; with `fail_add`, the database is down for writes."""

    def __init__(self, *, fail_add: bool = False) -> None:
        self.files: dict[str, StoredFile] = {}
        self.fail_add = fail_add

    async def add(self, file: StoredFile) -> StoredFile:
        if self.fail_add:
            raise ServiceUnavailable("database")
        stored = file.model_copy(update={"id": f"f{len(self.files)}"})
        self.files[stored.id or ""] = stored
        return stored

    async def get(self, file_id: str) -> StoredFile | None:
        return self.files.get(file_id)

    async def get_many(self, file_ids: list[str]) -> list[StoredFile]:
        return [self.files[i] for i in file_ids if i in self.files]

    async def delete(self, file_id: str) -> bool:
        return self.files.pop(file_id, None) is not None


@dataclass(frozen=True)
class Link:
    """A verified download link: the blob it names and how to label it."""

    tenant_id: str
    key: str
    filename: str
    content_type: str


class FakeLinks(DownloadLinks):
    """A link is valid when its `sig` is `good`; it names `tenant` and `key`."""

    def verify_query(self, params: Mapping[str, str]) -> Link:
        if params.get("sig") != "good":
            raise Forbidden("bad link")
        return Link(params["tenant"], params["key"], "a.txt", "text/plain")


class FakeScan(MalwareScan):
    def __init__(self, scanner: FakeScanner) -> None:
        self._scanner = scanner
        self.fed = bytearray()
        self.aborted = False

    async def feed(self, chunk: bytes) -> None:
        self.fed += chunk

    async def threat(self) -> str | None:
        if self._scanner.fail_verdict:
            raise ServiceUnavailable("malware scanner")
        return self._scanner.signature if self._scanner.marker in self.fed else None

    async def abort(self) -> None:
        self.aborted = True


class FakeScanner(MalwareScanner):
    """Finds `signature` in a file containing `marker`; `down` refuses to begin,
    `fail_verdict` gives no verdict; `scans` are the scans begun."""

    def __init__(self, max_bytes: int = 1_000_000, marker: bytes = b"EICAR") -> None:
        self._max_bytes = max_bytes
        self.marker = marker
        self.signature = "Eicar-Test-Signature"
        self.down = False
        self.fail_verdict = False
        self.scans: list[FakeScan] = []

    @property
    def max_bytes(self) -> int | None:
        return self._max_bytes

    async def begin(self) -> MalwareScan | None:
        if self.down:
            raise ServiceUnavailable("malware scanner")
        self.scans.append(FakeScan(self))
        return self.scans[-1]
