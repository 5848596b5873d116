"""`PdfWriter` on fpdf2 (pure Python), with DejaVu Sans bundled beside this module
(fonts/DejaVuSans.ttf, its licence in fonts/LICENSE-DejaVu.txt: redistribution allowed),
so that no system font is needed and Latin, Greek, Cyrillic, Arabic, Hebrew and more
render as written. A character the font has no glyph for (emoji, CJK) degrades to its
code point, `<U+1F44D>`, rather than vanishing.

fpdf2 keeps the document in memory until it is written out, so a PDF holds at most
`max_entries` entries (then a line says how to get the rest: the CSV has every entry);
entries are read batch by batch, and each batch is laid out in a worker thread so the
event loop is never blocked. fpdf2 is imported on the first PDF (about a second of
imports, which every process that builds the container would pay otherwise).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from api.domain.crm.transcripts import EntryCounter, EntryKind, TranscriptEntry, TranscriptHeader

FONT_FILE = Path(__file__).parent / "fonts" / "DejaVuSans.ttf"
FONT = "dejavu"
CHUNK = 64 * 1024
_SILENT = frozenset({0x200D, 0xFE0E, 0xFE0F})  # joiners and emoji variation selectors
_NOTE_FILL = (255, 246, 214)
_GREY = (110, 110, 110)
_BLACK = (0, 0, 0)

if TYPE_CHECKING:
    from fpdf import FPDF


@cache
def _codepoints() -> frozenset[int]:
    from fpdf import FPDF

    probe = FPDF()
    probe.add_font(FONT, "", str(FONT_FILE))
    return frozenset(getattr(probe.fonts[FONT], "cmap", {}))


def printable(text: str) -> str:
    """`text` with what the font cannot draw written as its code point."""
    known = _codepoints()
    out = []
    for char in text:
        point = ord(char)
        if point in _SILENT:
            continue
        out.append(char if point in known or char in "\n\t" else f"<U+{point:04X}>")
    return "".join(out)


class FpdfTranscriptWriter:
    """`PdfWriter` adapter."""

    def chunks(
        self,
        header: TranscriptHeader,
        batches: AsyncIterator[list[TranscriptEntry]],
        *,
        max_entries: int,
        counter: EntryCounter,
    ) -> AsyncIterator[bytes]:
        return self._chunks(header, batches, max_entries, counter)

    async def _chunks(
        self,
        header: TranscriptHeader,
        batches: AsyncIterator[list[TranscriptEntry]],
        max_entries: int,
        counter: EntryCounter,
    ) -> AsyncIterator[bytes]:
        zone = _zone(header.timezone)
        pdf = await asyncio.to_thread(_start, header)
        async for batch in batches:
            room = max_entries - counter.entries
            if len(batch) > room:
                counter.truncated = True
                batch = batch[:room]
            if batch:
                await asyncio.to_thread(_write, pdf, batch, zone)
                counter.entries += len(batch)
            if counter.truncated:
                break
        data = await asyncio.to_thread(_finish, pdf, counter)
        for start in range(0, len(data), CHUNK):
            yield data[start : start + CHUNK]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _start(header: TranscriptHeader) -> FPDF:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(f"Conversation {header.conversation_id}")
    pdf.set_creator("Parley")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font(FONT, "", str(FONT_FILE))
    pdf.add_page()
    pdf.set_font(FONT, size=15)
    _line(pdf, "Conversation transcript", height=9)
    pdf.set_font(FONT, size=9)
    zone = _zone(header.timezone)
    facts = [
        ("Contact", header.contact_name or "-"),
        ("Phone", header.contact_phone or "-"),
        ("Channel", header.channel_type),
        ("Conversation", header.conversation_id),
        ("Status", header.status),
        ("Started", _both(header.created_at, zone)),
        ("Times", f"{zone.key} and UTC"),
    ]
    for label, value in facts:
        _line(pdf, f"{label}: {value}")
    pdf.ln(3)
    return pdf


def _both(at: datetime, zone: ZoneInfo) -> str:
    local = at.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} ({at:%Y-%m-%d %H:%M:%S} UTC)"


def _write(pdf: FPDF, batch: list[TranscriptEntry], zone: ZoneInfo) -> None:
    for entry in batch:
        who = f"{entry.sender} ({entry.sender_type})"
        where = f" · {entry.direction}" if entry.kind is EntryKind.MESSAGE else ""
        label = {EntryKind.NOTE: " · PRIVATE NOTE", EntryKind.EVENT: " · STATUS CHANGE"}.get(
            entry.kind, ""
        )
        status = f" · {entry.status}" if entry.status else ""
        pdf.set_font(FONT, size=8)
        pdf.set_text_color(*_GREY)
        _line(pdf, f"{_both(entry.at, zone)} · {who}{where}{label}{status}")
        pdf.set_text_color(*_BLACK)
        pdf.set_font(FONT, size=10)
        fill = entry.kind is EntryKind.NOTE
        if fill:
            pdf.set_fill_color(*_NOTE_FILL)
        if entry.kind is EntryKind.EVENT:
            pdf.set_text_color(*_GREY)
        _line(pdf, entry.text or f"[{entry.type}]", height=5, fill=fill)
        pdf.set_text_color(*_BLACK)
        if entry.attachment:
            pdf.set_font(FONT, size=8)
            _line(pdf, f"Attachment: {entry.attachment}")
        pdf.ln(2)


def _line(pdf: FPDF, text: str, *, height: float = 4.5, fill: bool = False) -> None:
    from fpdf.enums import XPos, YPos

    pdf.multi_cell(0, height, printable(text), fill=fill, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _finish(pdf: FPDF, counter: EntryCounter) -> bytes:
    if counter.truncated:
        pdf.set_font(FONT, size=10)
        _line(
            pdf,
            f"The PDF stops here, after {counter.entries} entries; the CSV transcript of "
            "this conversation has every entry.",
        )
    return bytes(pdf.output())
