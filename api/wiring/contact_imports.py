"""Contact imports: the job's repositories, the sheet reader, its policy (`IMPORT_*`),
and the messaging context's `ImportFiles` on the files feature.

The messaging use cases may not import the files use cases (independent contexts), so
the wiring adapts one to the other: an import's file is stored like an upload (streamed,
hashed, size-limited by `IMPORT_MAX_BYTES`, no orphan blob, the tenant's storage
settings), with purpose `contact_import`, sniffed by the imports' own sniffer (CSV in any
common encoding, XLSX): anything else is 422 `invalid_import_file`, an empty file 422
`empty_import_file`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import punq

from api.config import Settings
from api.domain.errors import InvalidInput, UnsupportedMediaType
from api.domain.files.scanning import MalwareScanner
from api.domain.files.storage import FileCatalog, FilenameSanitizer
from api.domain.messaging.imports import (
    ContactImportRepository,
    EmptyImportFile,
    ImportContacts,
    ImportFile,
    ImportFiles,
    ImportResults,
    InvalidImportFile,
    SheetReader,
    StaleImports,
)
from api.infrastructure.imports.sheets import StreamingSheetReader
from api.infrastructure.imports.sniff import IMPORT_CONTENT_TYPES, sniff_import
from api.infrastructure.persistence.messaging.contact_imports import (
    BeanieContactImportRepository,
    BeanieImportResults,
    MongoImportContacts,
    PlatformStaleImports,
)
from api.usecases.files.file_store import FileStore, Upload
from api.usecases.files.rules import StoragePolicy
from api.usecases.files.storages import Storages
from api.usecases.messaging.contact_imports import ImportPolicy

IMPORT_PURPOSE = "contact_import"
NOT_A_SHEET = "The file is not a CSV or XLSX file."


class FileStoreImportFiles:
    """`ImportFiles` adapter; its files are stored with purpose `purpose`."""

    purpose = IMPORT_PURPOSE

    def __init__(
        self,
        storages: Storages,
        files: FileCatalog,
        sanitize: FilenameSanitizer,
        storage_policy: StoragePolicy,
        policy: ImportPolicy,
        scanner: MalwareScanner,
    ) -> None:
        self._storages = storages
        self._files = files
        self._store = FileStore(storages, files, sniff_import, sanitize, storage_policy, scanner)
        self._max_bytes = policy.max_bytes

    async def store(
        self, *, filename: str, chunks: AsyncIterator[bytes], owner_id: str
    ) -> ImportFile:
        try:
            stored = await self._store.store(
                Upload(filename=filename, chunks=chunks), purpose=self.purpose,
                owner_id=owner_id, allowed=IMPORT_CONTENT_TYPES, max_bytes=self._max_bytes,
            )  # fmt: skip
        except UnsupportedMediaType:
            raise InvalidImportFile(NOT_A_SHEET) from None
        except InvalidInput as exc:
            if type(exc) is InvalidInput:  # FileStore's "The file is empty."
                raise EmptyImportFile("The file is empty.") from None
            raise
        assert stored.id is not None  # noqa: S101 - stored files have ids
        return ImportFile(file_id=stored.id, filename=stored.filename,
                          content_type=stored.content_type, size=stored.size)  # fmt: skip

    async def open(self, file_id: str) -> AsyncIterator[bytes]:
        file = await self._store.get(file_id)
        storage = await self._storages.for_file(file)
        async for chunk in storage.open(file.key):
            yield chunk

    async def remove(self, file_id: str) -> None:
        file = await self._store.find(file_id)
        if file is not None:
            await self._store.remove(file)


def import_policy(settings: Settings) -> ImportPolicy:
    imports = settings.imports
    return ImportPolicy(
        max_bytes=imports.max_bytes,
        batch_size=imports.batch_size,
        lease_seconds=imports.lease_seconds,
        # A run hands over well before the job's time limit cancels it.
        run_seconds=min(imports.run_seconds, settings.jobs.job_time_limit_seconds * 0.8),
        max_attempts=imports.max_attempts,
    )


def register_imports(container: punq.Container, settings: Settings) -> None:
    container.register(ImportPolicy, instance=import_policy(settings))
    container.register(ContactImportRepository, BeanieContactImportRepository)
    container.register(ImportResults, BeanieImportResults)
    container.register(ImportContacts, MongoImportContacts)
    container.register(StaleImports, instance=PlatformStaleImports())
    container.register(SheetReader, instance=StreamingSheetReader())
    container.register(ImportFiles, FileStoreImportFiles)  # Storages: discovered later
