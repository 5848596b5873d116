"""Contacts as CSV: the columns of an export and how each value is written.

Columns: `id, name, phone, wa_id, email, language, tags, opted_out, opted_out_at, source,
created_at`, then one `attribute:<key>` column per attribute key in use, sorted. Values:
tags joined with `;`, booleans `true`/`false`, times ISO 8601 UTC with offset, nothing
for a missing value. The file is UTF-8 with a byte order mark (so that spreadsheet
programs read accents right) and CRLF line ends (RFC 4180).

Formula injection: a spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, a tab
or a carriage return as a formula. Such a cell gets a leading `'` (shown as text), unless
it is a plain number (`+442079460958`, `-3`), which no spreadsheet runs; so phone numbers
stay as they are and names like `=HYPERLINK(...)` are defused.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from api.domain.messaging.contacts import Contact

BOM = "\ufeff"
FIXED_COLUMNS = (
    "id", "name", "phone", "wa_id", "email", "language", "tags", "opted_out",
    "opted_out_at", "source", "created_at",
)  # fmt: skip
ATTRIBUTE_PREFIX = "attribute:"
TAG_SEPARATOR = ";"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f]")


def header(attribute_keys: Iterable[str]) -> list[str]:
    return [*FIXED_COLUMNS, *(ATTRIBUTE_PREFIX + key for key in attribute_keys)]


def safe_cell(value: str) -> str:
    """The value without control characters (but tab and line ends), defused when a
    spreadsheet would run it as a formula."""
    value = _CONTROLS.sub("", value)
    if value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def row(contact: Contact, attribute_keys: Iterable[str]) -> list[str]:
    values: list[Any] = [
        contact.id, contact.name, contact.phone, contact.wa_id, contact.email,
        contact.language, TAG_SEPARATOR.join(contact.tags), contact.opted_out,
        contact.opted_out_at, contact.source.value, contact.created_at,
    ]  # fmt: skip
    values.extend(contact.attributes.get(key) for key in attribute_keys)
    return [safe_cell(_text(value)) for value in values]


class CsvCounter:
    """Counts the contacts written by `csv_chunks`."""

    def __init__(self) -> None:
        self.rows = 0


async def csv_chunks(
    batches: AsyncIterator[list[Contact]], attribute_keys: list[str], counter: CsvCounter
) -> AsyncIterator[bytes]:
    """The CSV file, one chunk per batch of contacts (memory bounded by the batch)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(header(attribute_keys))
    yield _drain(buffer)
    async for batch in batches:
        for contact in batch:
            writer.writerow(row(contact, attribute_keys))
            counter.rows += 1
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return data
