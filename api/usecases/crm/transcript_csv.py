"""A transcript as CSV: one row per message, note or status change, oldest first.

Columns: `time_utc, time_local` (ISO 8601: UTC, and the tenant's time zone with its
offset), `kind` (message, note, event), `direction` (inbound, outbound), `sender_type`
(contact, agent, bot, campaign, system), `sender` (a name), `type` (the message type or
the event), `text` (the text, or a description of the content), `attachment` (a link to
the file), `status` (a message's delivery status), `message_id`. UTF-8 with a byte order
mark and CRLF line ends, like the contact exports; every cell through the formula guard
(`safe_cell`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

from api.domain.crm.transcripts import EntryCounter, TranscriptEntry
from api.usecases.kernel.csv_cells import drain, safe_cell

BOM = "\ufeff"
COLUMNS = (
    "time_utc", "time_local", "kind", "direction", "sender_type", "sender", "type", "text",
    "attachment", "status", "message_id",
)  # fmt: skip


def local_time(at: datetime, zone: ZoneInfo) -> datetime:
    return at.astimezone(zone)


def row(entry: TranscriptEntry, zone: ZoneInfo) -> list[str]:
    values = [
        entry.at.isoformat(), local_time(entry.at, zone).isoformat(), entry.kind.value,
        entry.direction or "", entry.sender_type, entry.sender, entry.type, entry.text,
        entry.attachment or "", entry.status or "", entry.message_id or "",
    ]  # fmt: skip
    return [safe_cell(value) for value in values]


async def csv_chunks(
    batches: AsyncIterator[list[TranscriptEntry]], zone: ZoneInfo, counter: EntryCounter
) -> AsyncIterator[bytes]:
    """The CSV file, one chunk per batch of entries (memory bounded by the batch)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(COLUMNS)
    yield drain(buffer)
    async for batch in batches:
        for entry in batch:
            writer.writerow(row(entry, zone))
            counter.entries += 1
        yield drain(buffer)
