"""Spreadsheet imports, shared by the contexts that import rows (contacts, leads): the
stored file (`ImportFiles`), its format, and reading it as a sheet of trimmed text cells
(`SheetReader`, streaming: memory does not grow with the rows). What each context does
with a row is its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from api.domain.errors import InvalidInput


class ImportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


class ImportFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    file_id: str
    filename: str
    content_type: str
    size: int


class ImportFiles(Protocol):
    """Where imported files are kept: the tenant's storage (the files feature)."""

    async def store(
        self, *, filename: str, chunks: AsyncIterator[bytes], owner_id: str
    ) -> ImportFile:
        """Store an upload (type sniffed, size limited; `UnsupportedMediaType`,
        `PayloadTooLarge`, `InvalidInput` for an empty file)."""
        ...

    def open(self, file_id: str) -> AsyncIterator[bytes]:
        """The stored file's bytes (`NotFound` when gone)."""
        ...

    async def remove(self, file_id: str) -> None: ...


class Sheet(Protocol):
    """An opened spreadsheet: its header, then its rows, a batch at a time (cells as
    trimmed text, '' for an empty cell)."""

    header: list[str]

    async def count_rows(self) -> int:
        """How many rows follow the header (blank ones included)."""
        ...

    async def next_rows(self, limit: int) -> list[list[str]]:
        """The next `limit` rows at most; [] at the end."""
        ...


class SheetReader(Protocol):
    """Reads a stored file as a sheet, streaming (memory does not grow with the rows).
    `InvalidImportFile` when the bytes are not a readable CSV or XLSX."""

    def open(
        self, chunks: AsyncIterator[bytes], file_format: ImportFormat
    ) -> AbstractAsyncContextManager[Sheet]: ...


class InvalidImportFile(InvalidInput):
    """The file is not a CSV or XLSX file that can be read (`detail` says why)."""

    code = "invalid_import_file"
    title = "Invalid import file"


class EmptyImportFile(InvalidImportFile):
    """The file has no header row, or no row after it."""

    code = "empty_import_file"
    title = "Empty import file"
