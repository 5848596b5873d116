"""The files of exports (contact exports, conversation transcripts) on the files feature's
`FileStore` (the contexts' use cases may not import each other: the wiring adapts).

An export is stored like an upload (sniffed: it must read as its type, `text/csv` or
`application/pdf`; streamed, hashed; no orphan blob on failure; the tenant's storage
settings), with its purpose (`contact_export`, `conversation_transcript`) and the
export's id as owner. Its size limit is `EXPORT_MAX_BYTES`, not `MAX_UPLOAD_BYTES` (it is
Parley's own file, and a large tenant's list is large). The link is the provider's signed
URL (`SIGNED_URL_TTL_SECONDS`), like every file's. Parley wrote it, so the malware
scanner (if any) is not asked.

`StoredFileLinks` signs links to the tenant's other files (a message's media in a
transcript) for a given time instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from api.domain.crm.transcripts import TranscriptFormat, TranscriptLink
from api.domain.files.storage import FileRepository, SignedUrl
from api.domain.messaging.contact_exports import ExportLink
from api.usecases.crm.transcripts import TRANSCRIPT_PURPOSE
from api.usecases.files.file_store import FileStore, Upload
from api.usecases.files.storages import Storages
from api.usecases.messaging.export_contacts import EXPORT_PURPOSE

EXPORT_MAX_BYTES = 2 * 1024 * 1024 * 1024
CSV = frozenset({"text/csv"})
PDF = frozenset({"application/pdf"})


class _ExportFileStore:
    """Stores, signs and removes export files."""

    def __init__(self, store: FileStore, files: FileRepository) -> None:
        self._store = store
        self._files = files

    async def _put(
        self,
        filename: str,
        chunks: AsyncIterator[bytes],
        *,
        purpose: str,
        owner_id: str,
        allowed: frozenset[str],
    ) -> str:
        stored = await self._store.store(
            Upload(filename=filename, chunks=chunks), purpose=purpose, owner_id=owner_id,
            allowed=allowed, max_bytes=EXPORT_MAX_BYTES, scan=False,
        )  # fmt: skip
        assert stored.id is not None  # noqa: S101 - stored files have ids
        return stored.id

    async def _signed(self, file_id: str) -> SignedUrl | None:
        found = await self._files.get(file_id)
        return None if found is None else await self._store.signed_url(found)

    async def remove(self, file_id: str) -> None:
        found = await self._files.get(file_id)
        if found is not None:
            await self._store.remove(found)


class FileStoreExportFiles(_ExportFileStore):
    """`ExportFiles` adapter (contact exports)."""

    async def store_csv(self, filename: str, chunks: AsyncIterator[bytes], owner_id: str) -> str:
        return await self._put(
            filename, chunks, purpose=EXPORT_PURPOSE, owner_id=owner_id, allowed=CSV
        )

    async def link(self, file_id: str) -> ExportLink | None:
        signed = await self._signed(file_id)
        return None if signed is None else ExportLink(url=signed.url, expires_at=signed.expires_at)


class FileStoreTranscriptFiles(_ExportFileStore):
    """`TranscriptFiles` adapter (conversation transcripts)."""

    async def store(
        self, filename: str, chunks: AsyncIterator[bytes], owner_id: str, format: TranscriptFormat
    ) -> str:
        allowed = CSV if format is TranscriptFormat.CSV else PDF
        return await self._put(
            filename, chunks, purpose=TRANSCRIPT_PURPOSE, owner_id=owner_id, allowed=allowed
        )

    async def link(self, file_id: str) -> TranscriptLink | None:
        signed = await self._signed(file_id)
        return (
            None if signed is None else TranscriptLink(url=signed.url, expires_at=signed.expires_at)
        )


class StoredFileLinks:
    """`FileLinks` adapter: the provider's signed URL of one of the tenant's files, valid
    for the time asked (within what the provider allows: at most 7 days)."""

    def __init__(self, storages: Storages, files: FileRepository) -> None:
        self._storages = storages
        self._files = files

    async def link(self, file_id: str, *, expires_in: int) -> str | None:
        found = await self._files.get(file_id)
        if found is None:
            return None
        storage = await self._storages.for_file(found)
        signed = await storage.signed_url(
            found.key, expires_in=min(expires_in, 7 * 86400), filename=found.filename,
            content_type=found.content_type,
        )  # fmt: skip
        return signed.url
