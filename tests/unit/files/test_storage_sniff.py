"""Content sniffing (the bytes decide, not the name) and filename sanitising."""

from __future__ import annotations

import io
import unicodedata
import zipfile

import pytest

from api.infrastructure.storage.sniff import (
    content_disposition,
    sanitize_filename,
    sniff_content_type,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 32
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00" * 16
# A Windows executable's first bytes: "MZ" DOS header pointing at a "PE" header.
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44
EXE += b"\x80\x00\x00\x00" + b"\x00" * 64 + b"PE\x00\x00L\x01"


def _zip(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<x/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("head", "filename", "expected"),
    [
        (PNG, "photo.png", "image/png"),
        (JPEG, "photo.jpg", "image/jpeg"),
        (PDF, "report.pdf", "application/pdf"),
        (GIF, "anim.gif", "image/gif"),
        # the name does not matter when the bytes are known
        (PNG, "no-extension", "image/png"),
        (PDF, "report.png", "application/pdf"),
    ],
)
def test_magic_bytes_decide_the_type(head: bytes, filename: str, expected: str) -> None:
    assert sniff_content_type(head, filename) == expected


def test_an_executable_named_png_is_an_executable() -> None:
    sniffed = sniff_content_type(EXE, "cute-cat.png")
    assert sniffed == "application/vnd.microsoft.portable-executable"


def test_zip_based_formats_use_the_name_only_to_break_ties() -> None:
    docx = _zip("[Content_Types].xml", "word/document.xml")
    assert sniff_content_type(docx, "letter.docx") == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert sniff_content_type(docx, "sheet.xlsx") == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    plain = _zip("notes.txt")
    assert sniff_content_type(plain, "archive.zip") == "application/zip"
    assert sniff_content_type(plain, "archive.bin") == "application/zip"
    # a name cannot turn a zip into an image
    assert sniff_content_type(plain, "photo.png") == "application/zip"


def test_utf8_text_is_plain_text_or_csv_by_extension() -> None:
    assert sniff_content_type(b"hello, world\n", "notes.txt") == "text/plain"
    assert sniff_content_type("héllo wörld ✓\n".encode(), "notes") == "text/plain"
    assert sniff_content_type(b"id,name\n1,Ada\n", "people.csv") == "text/csv"
    assert sniff_content_type(b"id,name\n1,Ada\n", "people.CSV") == "text/csv"
    # text that happens to start like an MP3 tag is still text
    assert sniff_content_type(b"ID3,title\n1,Song\n", "tags.csv") == "text/csv"
    # a multi-byte character cut at the end of the head is still text
    assert sniff_content_type("abc é".encode()[:-1], "cut.txt") == "text/plain"


def test_text_with_a_non_text_extension_is_still_text() -> None:
    assert sniff_content_type(b"just words\n", "image.png") == "text/plain"


@pytest.mark.parametrize(
    "head",
    [
        b"hello\x00world",  # NUL: binary
        b"\x81\x82\x83\xc3\x28 random bytes",  # not UTF-8
        b"text with a \x07 bell",  # control character
        b"",  # nothing to go on
    ],
)
def test_unknown_bytes_are_unknown(head: bytes) -> None:
    assert sniff_content_type(head, "mystery.bin") is None


def test_an_empty_txt_or_csv_is_text() -> None:
    assert sniff_content_type(b"", "empty.txt") == "text/plain"
    assert sniff_content_type(b"", "empty.csv") == "text/csv"


def test_html_is_not_passed_off_as_plain_text() -> None:
    assert sniff_content_type(b"<!DOCTYPE html><html><script>x()</script>", "a.txt") == (
        "text/html"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("/absolute/path/photo.png", "photo.png"),
        ("dir/", "file"),
        ("..", "file"),
        (".", "file"),
        ("...", "file"),
        ("", "file"),
        ("   ", "file"),
        ("\x00\x01\x1f", "file"),
        ("bad\x00name\r\n.txt", "badname.txt"),
        ("line\u2028break.txt", "linebreak.txt"),
        # a right-to-left override would show "photo\u202egnp.exe" as "photoexe.png"
        ("photo\u202egnp.exe", "photognp.exe"),
        ("trailing dots...", "trailing dots"),
        ("  spaced name.txt  ", "spaced name.txt"),
        ("Ünïcödé ✓ 名前.txt", "Ünïcödé ✓ 名前.txt"),
    ],
)
def test_sanitize_filename(name: str, expected: str) -> None:
    assert sanitize_filename(name) == expected


def test_sanitize_filename_composes_unicode_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "café.txt")
    assert decomposed != "café.txt"
    assert sanitize_filename(decomposed) == "café.txt"


def test_long_names_are_cut_to_255_bytes_keeping_the_extension() -> None:
    name = sanitize_filename("a" * 400 + ".pdf")
    assert name.endswith(".pdf")
    assert len(name.encode()) == 255

    wide = sanitize_filename("名" * 200 + ".docx")  # 3 bytes each: cut on a character
    assert wide.endswith(".docx")
    assert len(wide.encode()) <= 255
    assert wide.encode().decode() == wide
    assert set(wide.removesuffix(".docx")) == {"名"}

    no_extension = sanitize_filename("b" * 300)
    assert no_extension == "b" * 255

    absurd_extension = sanitize_filename("x." + "y" * 300)  # not a real extension: cut all
    assert len(absurd_extension.encode()) == 255
    assert absurd_extension.startswith("x.yyy")


def test_content_disposition_has_an_ascii_fallback_and_the_utf8_name() -> None:
    assert content_disposition("report.pdf") == 'attachment; filename="report.pdf"'
    header = content_disposition('résumé "final".pdf')
    assert header.startswith('attachment; filename="resume _final_.pdf"; ')
    assert header.endswith("filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf")
    assert content_disposition("名前.txt").startswith('attachment; filename="file.txt"; ')
    assert content_disposition("名前").startswith('attachment; filename="file"; ')
