"""`SheetReader` adapter: a stored CSV or XLSX file read row by row, memory flat.

The file's bytes are spooled to a temporary file first (an XLSX is a zip: it needs
random access), then read a batch at a time in a worker thread, so the event loop never
parses:

- CSV with the `csv` module. The encoding: UTF-8 (a byte-order mark dropped) when every
  byte decodes as UTF-8, UTF-16 with its mark, else what `charset-normalizer` finds when
  it names a non-Latin script (Cyrillic, Greek, Hebrew, Arabic, Thai, CJK), else cp1252
  (Excel's "CSV" on Windows; latin-1 text reads the same): on a short sample the
  detector's choice among Latin code pages is a guess. The delimiter is the one of `,`,
  `;`, tab and `|` the header line has most of (`,` when none).
- XLSX with openpyxl in read-only mode (rows parsed as they are reached, never the whole
  sheet), the first worksheet, values not formulas. Numbers that are whole read without
  `.0` (a phone number typed as a number), dates as ISO 8601.

Cells are trimmed text; a short row is padded with '' to the header's width, cells past
it are dropped. A file that cannot be read is `InvalidImportFile`; one without a header
row `EmptyImportFile`.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import datetime as dt
import os
import re
import tempfile
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from itertools import islice
from typing import IO, Any

import charset_normalizer

from api.domain.imports import (
    EmptyImportFile,
    ImportFormat,
    InvalidImportFile,
    Sheet,
)

READ_SAMPLE = 1024 * 1024  # what charset-normalizer looks at
_DELIMITERS = (",", ";", "\t", "|")
# What charset-normalizer may name that is not a Latin script: trusted. Anything else it
# names from a short sample (cp775, cp1250, mac_roman...) is a guess among Latin code
# pages, and a Western spreadsheet's CSV is cp1252.
_OTHER_SCRIPTS = frozenset({
    "cp1251", "koi8_r", "koi8_u", "iso8859_5", "mac_cyrillic", "cp866", "cp855", "kz1048",
    "ptcp154", "cp1253", "iso8859_7", "mac_greek", "cp1255", "iso8859_8", "cp1256",
    "iso8859_6", "cp874", "tis_620", "cp1258", "utf_16", "utf_16_le", "utf_16_be", "utf_32",
    "shift_jis", "cp932", "euc_jp", "iso2022_jp", "gb2312", "gbk", "gb18030", "big5",
    "big5hkscs", "cp950", "euc_kr", "cp949", "johab",
})  # fmt: skip
Row = list[str]
_ROW_TAG = re.compile(rb"<row[ >/]")
_ROW_TAG_LENGTH = 5


class StreamingSheetReader:
    """Opens a stored import file as a `Sheet` (see the module's docstring)."""

    def __init__(self, spool_dir: str | None = None) -> None:
        self._spool_dir = spool_dir

    @asynccontextmanager
    async def open(
        self, chunks: AsyncIterator[bytes], file_format: ImportFormat
    ) -> AsyncIterator[Sheet]:
        path = await self._spool(chunks, f".{file_format.value}")  # openpyxl wants .xlsx
        try:
            opener = _CsvSheet if file_format is ImportFormat.CSV else _XlsxSheet
            sheet = await asyncio.to_thread(opener, path)
            try:
                yield sheet
            finally:
                await asyncio.to_thread(sheet.close)
        finally:
            await asyncio.to_thread(_unlink, path)

    async def _spool(self, chunks: AsyncIterator[bytes], suffix: str) -> str:
        handle, path = tempfile.mkstemp(prefix="parley-import-", suffix=suffix,
                                        dir=self._spool_dir)  # fmt: skip
        try:
            with os.fdopen(handle, "wb") as out:
                async for chunk in chunks:
                    await asyncio.to_thread(out.write, chunk)
        except BaseException:
            _unlink(path)
            raise
        return path


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _padded(cells: list[str], width: int) -> Row:
    if len(cells) >= width:
        return cells[:width]
    return cells + [""] * (width - len(cells))


class _BaseSheet:
    header: Row

    def close(self) -> None: ...

    def _batch(self, limit: int) -> list[Row]:
        raise NotImplementedError

    def _count(self) -> int:
        raise NotImplementedError

    async def next_rows(self, limit: int) -> list[Row]:
        return await asyncio.to_thread(self._batch, limit)

    async def count_rows(self) -> int:
        return await asyncio.to_thread(self._count)


class _CsvSheet(_BaseSheet):
    def __init__(self, path: str) -> None:
        self._path = path
        self._encoding = _encoding_of(path)
        self._file: IO[str] = open(path, encoding=self._encoding, errors="replace", newline="")  # noqa: SIM115 - closed by close()
        try:
            first = self._file.readline()
            self._delimiter = max(_DELIMITERS, key=first.count) if first.strip() else ","
            self._file.seek(0)
            self._reader = csv.reader(self._file, delimiter=self._delimiter)
            header = next(self._reader, None)
            if header is None or not any(cell.strip() for cell in header):
                raise EmptyImportFile("The file has no header row.")
            self.header = [cell.strip() for cell in header]
            self._row = 1
        except BaseException:
            self._file.close()
            raise

    def close(self) -> None:
        self._file.close()

    def _batch(self, limit: int) -> list[Row]:
        width = len(self.header)
        try:
            return [_padded([c.strip() for c in cells], width)
                    for cells in islice(self._reader, limit)]  # fmt: skip
        except csv.Error as exc:
            raise InvalidImportFile(
                f"The CSV file cannot be read after row {self._reader.line_num}: {exc}."
            ) from None

    def _count(self) -> int:
        with open(self._path, encoding=self._encoding, errors="replace", newline="") as file:
            try:
                return max(0, sum(1 for _ in csv.reader(file, delimiter=self._delimiter)) - 1)
            except csv.Error as exc:
                raise InvalidImportFile(f"The CSV file cannot be read: {exc}.") from None


def _encoding_of(path: str) -> str:
    with open(path, "rb") as file:
        head = file.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        file.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := file.read(1024 * 1024):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8-sig"
        except UnicodeDecodeError:
            file.seek(0)
            sample = file.read(READ_SAMPLE)
    best = charset_normalizer.from_bytes(sample).best()
    if best is not None and best.encoding in _OTHER_SCRIPTS:
        return str(best.encoding)
    return "cp1252"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


class _XlsxSheet(_BaseSheet):
    def __init__(self, path: str) -> None:
        from openpyxl import load_workbook  # heavy: only where workbooks are read

        self._path = path
        try:
            self._book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl's errors for a bad zip or workbook are many
            raise InvalidImportFile("The file is not a readable XLSX workbook.") from exc
        try:
            if not self._book.worksheets:
                raise EmptyImportFile("The workbook has no worksheet.")
            self._sheet = self._book.worksheets[0]
            self._rows: Iterator[tuple[Any, ...]] = self._sheet.iter_rows(values_only=True)
            header = self._next()
            if header is None or not any(_text(v) for v in header):
                raise EmptyImportFile("The file has no header row.")
            self.header = [_text(v) for v in header]
            while self.header and not self.header[-1]:
                self.header.pop()  # cells a sheet's width leaves empty past the last column
        except BaseException:
            self._book.close()
            raise

    def close(self) -> None:
        self._book.close()

    def _next(self) -> tuple[Any, ...] | None:
        try:
            return next(self._rows, None)
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise InvalidImportFile("The XLSX workbook cannot be read.") from exc

    def _batch(self, limit: int) -> list[Row]:
        width = len(self.header)
        rows: list[Row] = []
        while len(rows) < limit:
            values = self._next()
            if values is None:
                break
            rows.append(_padded([_text(v) for v in values[:width]], width))
        return rows

    def _count(self) -> int:
        """From the sheet's declared dimension when it has one (Excel writes it), else by
        counting the `<row` elements of the sheet's XML as it decompresses (no parse: a
        row Excel leaves out as empty is not counted, the end of the run counts it)."""
        declared_last, declared_first = self._sheet.max_row, self._sheet.min_row
        if isinstance(declared_last, int) and isinstance(declared_first, int):
            return max(0, declared_last - declared_first)
        member = getattr(self._sheet, "_worksheet_path", None)
        if not isinstance(member, str):
            return sum(1 for _ in self._book.worksheets[0].iter_rows()) - 1
        rows, tail = 0, b""
        with zipfile.ZipFile(self._path) as archive, archive.open(member) as xml:
            while chunk := xml.read(1024 * 1024):
                data = tail + chunk
                rows += len(_ROW_TAG.findall(data))
                tail = data[-(_ROW_TAG_LENGTH - 1) :]  # shorter than a tag: none counted twice
        return max(0, rows - 1)
