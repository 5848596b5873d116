"""Names of files as people gave them: safe to store, to show and to put in a header.

`sanitize_filename(name)` keeps the last path component, without control or
bidi-override characters, NFC, at most 255 UTF-8 bytes with the extension kept, never
empty. `content_disposition(filename)` is the RFC 6266 header value for a download, with
an ASCII fallback and the UTF-8 name. A stored file's key never derives from its name.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

MAX_FILENAME_BYTES = 255
_MAX_EXTENSION_BYTES = 32
_FALLBACK_NAME = "file"
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_DROPPED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def sanitize_filename(name: str) -> str:
    """A display name safe to store, show and put in a header; never empty."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = (
        char
        for char in name
        if char not in _BIDI_CONTROLS and unicodedata.category(char) not in _DROPPED_CATEGORIES
    )
    name = unicodedata.normalize("NFC", "".join(kept)).strip().rstrip(". ")
    if not name.strip("."):
        return _FALLBACK_NAME
    return _truncate(name, MAX_FILENAME_BYTES)


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """`attachment; filename="ascii"; filename*=UTF-8''...` (RFC 6266 / RFC 5987)."""
    name = sanitize_filename(filename)
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = "".join(c if c.isprintable() and c not in '"\\' else "_" for c in ascii_name)
    stem, dot, ext = ascii_name.rpartition(".")
    if not (stem if dot else ext).strip(" ._-"):  # nothing left of the name itself
        ascii_name = _FALLBACK_NAME + dot + ext
    value = f'{disposition}; filename="{ascii_name}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def _truncate(name: str, limit: int) -> str:
    """Cut the stem so the UTF-8 name fits `limit` bytes, keeping a short extension."""
    if len(name.encode()) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    suffix = dot + ext
    if not dot or not stem or len(suffix.encode()) > _MAX_EXTENSION_BYTES:
        stem, suffix = name, ""
    room = limit - len(suffix.encode())
    cut = stem.encode()[:room].decode("utf-8", "ignore").rstrip()
    return (cut or _FALLBACK_NAME) + suffix
