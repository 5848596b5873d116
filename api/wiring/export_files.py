"""The messaging context's `ExportFiles`, on the files feature's `FileStore` (the
contexts' use cases may not import each other: the wiring adapts).

An export is stored like an upload (sniffed: it must read as `text/csv`; streamed,
hashed; no orphan blob on failure; the tenant's storage settings), with purpose
`contact_export` and the export's id as owner. Its size limit is `EXPORT_MAX_BYTES`, not
`MAX_UPLOAD_BYTES` (it is Parley's own file, and a large tenant's list is large). The link
is the provider's signed URL (`SIGNED_URL_TTL_SECONDS`), like every file's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from api.domain.files.storage import FileRepository
from api.domain.messaging.contact_exports import ExportLink
from api.usecases.files.file_store import FileStore, Upload
from api.usecases.messaging.export_contacts import EXPORT_PURPOSE

EXPORT_MAX_BYTES = 2 * 1024 * 1024 * 1024
CSV = frozenset({"text/csv"})


class FileStoreExportFiles:
    """`ExportFiles` adapter."""

    def __init__(self, store: FileStore, files: FileRepository) -> None:
        self._store = store
        self._files = files

    async def store_csv(self, filename: str, chunks: AsyncIterator[bytes], owner_id: str) -> str:
        stored = await self._store.store(
            Upload(filename=filename, chunks=chunks),
            purpose=EXPORT_PURPOSE,
            owner_id=owner_id,
            allowed=CSV,
            max_bytes=EXPORT_MAX_BYTES,
        )
        assert stored.id is not None  # noqa: S101 - stored files have ids
        return stored.id

    async def link(self, file_id: str) -> ExportLink | None:
        found = await self._files.get(file_id)
        if found is None:
            return None
        signed = await self._store.signed_url(found)
        return ExportLink(url=signed.url, expires_at=signed.expires_at)

    async def remove(self, file_id: str) -> None:
        found = await self._files.get(file_id)
        if found is not None:
            await self._store.remove(found)
