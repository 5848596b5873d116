"""The messaging context's `OutboundFiles`, on the files feature's `FileRepository` and
`FileStore` (the contexts' use cases may not import each other: the wiring adapts).

A file is sent by link: the job asks for a signed URL of the stored file when it sends
(fresh after retries), and the provider fetches it from there (Telegram: uploaded, its
bytes read here). With the `local` storage
provider that URL is Parley's own download route under `PUBLIC_BASE_URL`, which the
provider must be able to reach (Meta fetches over public HTTPS).
"""

from __future__ import annotations

from api.domain.errors import NotFound
from api.domain.files.storage import FileRepository
from api.domain.messaging.messages import MediaLink
from api.usecases.files.file_store import FileStore


class FileStoreOutboundFiles:
    """`OutboundFiles` adapter."""

    def __init__(self, files: FileRepository, store: FileStore) -> None:
        self._files = files
        self._store = store

    async def describe(self, file_id: str) -> MediaLink | None:
        found = await self._files.get(file_id)
        if found is None or found.id is None:
            return None
        return MediaLink(
            file_id=found.id,
            content_type=found.content_type,
            size=found.size,
            filename=found.filename,
        )

    async def public_link(self, file_id: str) -> str:
        found = await self._files.get(file_id)
        if found is None:
            raise NotFound("File not found.")
        return (await self._store.signed_url(found)).url

    async def read(self, file_id: str, *, max_bytes: int) -> bytes:
        found = await self._files.get(file_id)
        if found is None:
            raise NotFound("File not found.")
        return await self._store.read(found, max_bytes=max_bytes)
