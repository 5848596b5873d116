"""What a file really is (from its first bytes, not its name), and safe names for files.

`sniff_content_type(head, filename)` asks puremagic about the first bytes (pass at least
the first 8 KiB). A confident match (confidence >= 0.5) wins; otherwise text is
recognised as valid UTF-8 without NULs or control characters (`text/csv` for a `.csv`
name, else `text/plain`); otherwise a weak match is used, else `None` (unknown). The
name only breaks ties between equally good matches (`.docx` vs `.xlsx`, both zips); it
never makes an `.exe` a `.png`.

`sanitize_filename` and `content_disposition` live in `api.domain.files.filenames` (re-exported
here for the adapters).
"""

from __future__ import annotations

import codecs

import puremagic

from api.domain.files.filenames import content_disposition, sanitize_filename

__all__ = ["content_disposition", "sanitize_filename", "sniff_content_type"]

_CONFIDENT = 0.5
_OCTET_STREAM = "application/octet-stream"
# puremagic leaves these without a useful MIME type.
_BY_EXTENSION = {
    ".exe": "application/vnd.microsoft.portable-executable",
    ".dll": "application/vnd.microsoft.portable-executable",
    ".sys": "application/vnd.microsoft.portable-executable",
}
_ALIASES = {"application/ogg": "audio/ogg", "audio/mp3": "audio/mpeg", "image/jpg": "image/jpeg"}
# A bare zip ties with every zip-based format; prefer the generic type when nothing decides.
_GENERIC = ("application/zip",)
_TEXT_CONTROLS_ALLOWED = frozenset("\t\n\r\f")


def sniff_content_type(head: bytes, filename: str) -> str | None:
    """The content type the bytes show, or `None` when they show nothing known."""
    extension = _extension(filename)
    magic = _magic(head, extension)
    if magic is not None and magic[0] >= _CONFIDENT:
        return magic[1]
    if _is_text(head) and (head or extension in {".txt", ".csv"}):
        return "text/csv" if extension == ".csv" else "text/plain"
    return magic[1] if magic is not None else None


def _magic(head: bytes, extension: str) -> tuple[float, str] | None:
    """The best (confidence, content type) puremagic finds in `head`, if any."""
    if not head:
        return None
    try:
        matches = puremagic.magic_string(head)  # no name: the bytes alone decide
    except (puremagic.PureError, ValueError):
        return None
    typed: list[tuple[float, str, str]] = []
    for match in matches:
        ext = match.extension.lower()
        mime = match.mime_type
        if not mime or mime == _OCTET_STREAM:
            mime = _BY_EXTENSION.get(ext, mime)
        if mime:
            typed.append((match.confidence, ext, _ALIASES.get(mime, mime)))
    if not typed:
        return None
    best = max(confidence for confidence, _, _ in typed)
    tied = [(ext, mime) for confidence, ext, mime in typed if confidence == best]
    for ext, mime in tied:
        if ext == extension:
            return best, mime
    for _, mime in tied:
        if mime in _GENERIC:
            return best, mime
    return best, tied[0][1]


def _is_text(head: bytes) -> bool:
    """Valid UTF-8 (a sequence cut at the end is fine) without NULs or odd controls."""
    if b"\x00" in head:
        return False
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return all(char >= " " or char in _TEXT_CONTROLS_ALLOWED for char in text)


def _extension(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem.strip(".") or not ext:
        return ""
    return "." + ext.lower()
