"""CSV cells that leave Parley (contact exports, conversation transcripts): a value a
spreadsheet would run as a formula is defused.

A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return
as a formula. Such a cell gets a leading `'` (shown as text), unless it is a plain number
(`+442079460958`, `-3`), which no spreadsheet runs; so phone numbers stay as they are and
names like `=HYPERLINK(...)` are defused. Control characters (but tab and line ends) are
dropped.
"""

from __future__ import annotations

import io
import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f]")


def safe_cell(value: str) -> str:
    """The value without control characters (but tab and line ends), defused when a
    spreadsheet would run it as a formula."""
    value = _CONTROLS.sub("", value)
    if value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def drain(buffer: io.StringIO) -> bytes:
    """What a CSV writer wrote into `buffer` so far, as UTF-8; the buffer emptied (a file
    streamed one chunk at a time)."""
    data = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return data
