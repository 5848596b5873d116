"""Contacts as CSV: the columns of an export and how each value is written.

Columns: `id, name, phone, wa_id, email, language, tags, opted_out, opted_out_at, source,
created_at`, then one `attribute:<key>` column per attribute key in use, sorted. Values:
tags joined with `;`, booleans `true`/`false`, times ISO 8601 UTC with offset, nothing
for a missing value. The file is UTF-8 with a byte order mark (so that spreadsheet
programs read accents right) and CRLF line ends (RFC 4180).

Formula injection: every cell goes through `safe_cell` (api/usecases/kernel/csv_cells.py):
a value a spreadsheet would run as a formula gets a leading `'`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from api.domain.messaging.contacts import Contact
from api.usecases.kernel.csv_cells import drain, safe_cell

BOM = "\ufeff"
FIXED_COLUMNS = (
    "id", "name", "phone", "wa_id", "email", "language", "tags", "opted_out",
    "opted_out_at", "source", "created_at",
)  # fmt: skip
ATTRIBUTE_PREFIX = "attribute:"
TAG_SEPARATOR = ";"


def header(attribute_keys: Iterable[str]) -> list[str]:
    return [*FIXED_COLUMNS, *(ATTRIBUTE_PREFIX + key for key in attribute_keys)]


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
    yield drain(buffer)
    async for batch in batches:
        for contact in batch:
            writer.writerow(row(contact, attribute_keys))
            counter.rows += 1
        yield drain(buffer)
