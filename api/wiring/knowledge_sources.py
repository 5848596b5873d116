"""The AI context's `DocumentSources`, on the files feature's `FileRepository` and
`Storages` (the contexts' use cases may not import each other: the wiring adapts).

A document's bytes are streamed from the storage provider of the settings version the
file was written with, chunk by chunk, never whole in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator

from api.domain.ai.documents import SourceFile
from api.domain.errors import NotFound
from api.domain.files.storage import FileRepository
from api.usecases.files.storages import Storages


class FileStoreDocumentSources:
    """`DocumentSources` adapter."""

    def __init__(self, files: FileRepository, storages: Storages) -> None:
        self._files = files
        self._storages = storages

    async def describe(self, file_id: str) -> SourceFile | None:
        found = await self._files.get(file_id)
        if found is None or found.id is None:
            return None
        return SourceFile(
            file_id=found.id,
            filename=found.filename,
            content_type=found.content_type,
            size=found.size,
            sha256=found.sha256,
        )

    async def open(self, file_id: str) -> AsyncIterator[bytes]:
        found = await self._files.get(file_id)
        if found is None:
            raise NotFound("No such file.")
        storage = await self._storages.for_file(found)
        async for chunk in storage.open(found.key):
            yield chunk
