"""Contact imports' pure parts: reading a row, planning a chunk (duplicates, limits), the
sniffer, the sheet reader's encodings, and the report's guard against formulas."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from api.domain.messaging.imports import (
    EmptyImportFile,
    ImportFormat,
    InvalidImportFile,
    KnownContact,
    RowOutcome,
    RowResult,
)
from api.infrastructure.imports.sheets import StreamingSheetReader
from api.infrastructure.imports.sniff import CSV, XLSX, sniff_import
from api.interfaces.http.routers.messaging.contact_imports import csv_line
from api.usecases.messaging.import_rules import RowReader, compile_mapping, plan_chunk
from tests.support.imports import csv_bytes, xlsx_bytes

HEADER = ["Phone", "Name", "Tags", "Plan"]
MAPPING = {"Phone": "phone", "Name": "name", "Tags": "tags", "Plan": "attribute:plan"}


def reader(country: str | None = "GB") -> RowReader:
    return RowReader(compile_mapping(MAPPING, HEADER), country)


def test_a_chunk_counts_a_number_seen_again_as_an_update_and_keeps_the_limits() -> None:
    rows = [
        ["07911 123456", "Ann", "a, b;c", "gold"],  # 2: new
        ["+447911123456", "Ann B", "d", ""],  # 3: the same number: updated
        ["447911123457", "Bob", "", ""],  # 4: bare international digits
        ["+447911123458", "Cat", ",".join(f"t{i}" for i in range(49)), ""],  # 5: 2 + 49 > 50
    ]
    parsed = [reader().read(n + 2, cells) for n, cells in enumerate(rows)]
    known = {"+447911123458": KnownContact(phone="+447911123458", tags=frozenset({"x", "y"}))}
    results, changes = plan_chunk(parsed, known)
    assert [(r.row, r.outcome) for r in results] == [
        (2, RowOutcome.CREATED), (3, RowOutcome.UPDATED), (4, RowOutcome.CREATED),
        (5, RowOutcome.FAILED),
    ]  # fmt: skip
    assert results[3].reason == "more than 50 tags" and results[3].column == "Tags"
    assert [(c.phone, c.new, c.tags) for c in changes] == [
        ("+447911123456", True, ["a", "b", "c"]), ("+447911123456", False, ["d"]),
        ("+447911123457", True, []),
    ]  # fmt: skip
    assert changes[0].attributes == {"plan": "gold"} and changes[1].attributes == {}
    # A dry run remembers the numbers of earlier chunks: seen again, it would update.
    again, _ = plan_chunk([reader().read(9, ["+447911123457", "", "", ""])], {},
                          seen_before={"+447911123457"})  # fmt: skip
    assert again == [RowResult(row=9, outcome=RowOutcome.UPDATED)]


def test_a_national_number_needs_the_country() -> None:
    result = reader(None).read(2, ["07911 123456", "", "", ""])
    assert result == RowResult(row=2, outcome=RowOutcome.FAILED, column="Phone",
                               value="07911 123456", reason="not a valid phone number")  # fmt: skip


def test_sniffing_tells_csv_and_xlsx_from_anything_else() -> None:
    assert sniff_import("Name;Phone\r\nJosé;+1\r\n".encode("cp1252"), "c.csv") == CSV
    assert sniff_import("Name;Phone\r\n".encode("utf-16"), "c.csv") == CSV
    assert sniff_import(b"Name,Phone\r\n", "c.txt") == CSV
    assert sniff_import(xlsx_bytes([["Phone"], ["+1"]]), "upload.bin") == XLSX
    assert sniff_import(b"PK\x03\x04" + b"\x00" * 60, "c.xlsx") == XLSX  # reading decides
    assert sniff_import(b"PK\x03\x04" + b"\x00" * 60, "c.zip") not in (CSV, XLSX)
    assert sniff_import(b"Name;Phone\r\n\x00\x01", "c.csv") not in (CSV, XLSX)
    assert sniff_import(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", "c.csv") not in (CSV, XLSX)


async def _chunks(content: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(content), 7):
        yield content[start : start + 7]


async def _read(content: bytes, file_format: ImportFormat) -> tuple[list[str], list[list[str]]]:
    async with StreamingSheetReader().open(_chunks(content), file_format) as sheet:
        rows, batch = [], await sheet.next_rows(2)
        while batch:
            rows += batch
            batch = await sheet.next_rows(2)
        assert await sheet.count_rows() == len(rows)
        return sheet.header, rows


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("utf-8-sig", "Zoë €"),
        ("utf-16", "Zoë €"),
        ("cp1252", "Zoë Peña €"),
        ("latin-1", "Zoë Peña"),
        ("cp1251", "Иван Петров из Москвы, Мария Иванова из Санкт-Петербурга"),
    ],
)
async def test_csv_encodings(encoding: str, text: str) -> None:
    rows = [["Phone", "Name"], *[["+447911123456", text]] * 20]
    header, read = await _read(csv_bytes(rows, encoding, ";"), ImportFormat.CSV)
    assert header == ["Phone", "Name"]
    assert read == [["+447911123456", text]] * 20


async def test_short_rows_are_padded_and_unreadable_files_refused() -> None:
    header, rows = await _read(b"Phone,Name,Tags\r\n+1,Ann\r\n\r\n+2,Bob,x,extra\r\n",
                               ImportFormat.CSV)  # fmt: skip
    assert header == ["Phone", "Name", "Tags"]
    assert rows == [["+1", "Ann", ""], ["", "", ""], ["+2", "Bob", "x"]]
    with pytest.raises(EmptyImportFile):
        await _read(b"\r\n", ImportFormat.CSV)
    with pytest.raises(InvalidImportFile):
        await _read(b"PK\x03\x04 not really a zip", ImportFormat.XLSX)
    header, rows = await _read(xlsx_bytes([["Phone", None], [447911123456, 1.5], [None, None]]),
                               ImportFormat.XLSX)  # fmt: skip
    assert header == ["Phone"] and rows == [["447911123456"], [""]]


def test_report_cells_cannot_be_formulas() -> None:
    line = csv_line((5, "Phone", '=HYPERLINK("http://x")', "not, valid"))
    assert line == '5,Phone,"\'=HYPERLINK(""http://x"")","not, valid"\r\n'
    for start in ("+", "-", "@", "\t", "\r"):
        assert csv_line((start + "1",)).lstrip('"').startswith("'" + start)
