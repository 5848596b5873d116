"""What an uploaded import file is: CSV (text, any common encoding) or XLSX, from its
first bytes (the files feature's sniffer), never from its name alone.

The files feature's sniffer knows UTF-8 text only; a CSV saved by Excel on Windows is
cp1252 and would read as unknown. Here a head without NUL bytes whose characters are
printable in cp1252 (or UTF-16 with its byte-order mark) is text too, when the name ends
in `.csv`, `.tsv` or `.txt`. A zip is a workbook when the name says `.xlsx` or its first
entries are a workbook's (`xl/...`); reading it then proves it.
"""

from __future__ import annotations

import codecs

from api.infrastructure.storage.sniff import sniff_content_type

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IMPORT_CONTENT_TYPES = frozenset({CSV, XLSX})
_TEXT_NAMES = (".csv", ".tsv", ".txt")
_TEXT_CONTROLS = frozenset("\t\n\r\f")


def sniff_import(head: bytes, filename: str) -> str | None:
    """`text/csv`, the XLSX type, or what else the bytes are (never allowed for imports)."""
    sniffed = sniff_content_type(head, filename)
    name = filename.lower()
    if sniffed in (CSV, "text/plain"):
        return CSV
    if sniffed == "application/zip" and (name.endswith(".xlsx") or b"xl/worksheets/" in head
                                         or b"xl/workbook.xml" in head):  # fmt: skip
        return XLSX
    if sniffed is None and name.endswith(_TEXT_NAMES) and _legacy_text(head):
        return CSV
    return sniffed


def _legacy_text(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    if b"\x00" in head:
        return False
    try:
        text = head.decode("cp1252")
    except UnicodeDecodeError:  # bytes cp1252 leaves undefined: some other code page
        text = head.decode("latin-1")
    return all(char >= " " or char in _TEXT_CONTROLS for char in text)
