"""Documents become passages: each kind parsed (PDF, DOCX, text, Markdown, CSV), split
with LangChain's splitters, and what cannot be read refused with a reason."""

from __future__ import annotations

import itertools

import pytest

from api.domain.ai.documents import (
    DOCX_TYPE,
    PDF_TYPE,
    DocumentKind,
    UnreadableDocument,
    document_kind,
)
from api.infrastructure.ai.documents import SplittingDocumentReader
from tests.support.documents import chunks_of, docx_bytes, pdf_bytes


def reader(**limits: int) -> SplittingDocumentReader:
    options = {"chunk_size": 200, "chunk_overlap": 20, "max_bytes": 1_000_000, "max_chunks": 100}
    return SplittingDocumentReader(**(options | limits))


async def passages(kind: DocumentKind, data: bytes, **limits: int) -> list[str]:
    return await reader(**limits).passages(kind, chunks_of(data, 64))


@pytest.mark.parametrize(
    ("content_type", "filename", "kind"),
    [
        (PDF_TYPE, "a.pdf", DocumentKind.PDF),
        (DOCX_TYPE, "a.docx", DocumentKind.DOCX),
        ("text/plain", "notes.txt", DocumentKind.TEXT),
        ("text/plain", "README.md", DocumentKind.MARKDOWN),
        ("text/plain", "guide.MARKDOWN", DocumentKind.MARKDOWN),
        ("text/markdown", "guide", DocumentKind.MARKDOWN),
        ("text/csv", "prices.csv", DocumentKind.CSV),
        ("image/png", "a.png", None),
        ("application/zip", "a.zip", None),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "a.xlsx", None),
    ],
)
def test_document_kinds(content_type: str, filename: str, kind: DocumentKind | None) -> None:
    assert document_kind(content_type, filename) == kind


async def test_pdf_pages_are_read() -> None:
    data = pdf_bytes("Our opening hours are nine to five.", "Refunds (within 30 days) are free.")
    found = await passages(DocumentKind.PDF, data)
    text = "\n".join(found)
    assert "Our opening hours are nine to five." in text
    assert "Refunds (within 30 days) are free." in text


async def test_docx_paragraphs_and_tables_are_read() -> None:
    data = docx_bytes("Shipping takes three days.", table=[["Plan", "Price"], ["Basic", "10 EUR"]])
    text = "\n".join(await passages(DocumentKind.DOCX, data))
    assert "Shipping takes three days." in text
    assert "Basic | 10 EUR" in text


async def test_text_is_split_into_overlapping_passages() -> None:
    sentences = [f"Sentence number {i} talks about topic {i}." for i in range(40)]
    found = await passages(DocumentKind.TEXT, " ".join(sentences).encode())
    assert len(found) > 5
    assert all(len(p) <= 200 for p in found)
    words = " ".join(sentences).split()
    assert set(" ".join(found).split()) == set(words)
    for before, after in itertools.pairwise(found):  # the overlap
        assert before.split()[-1] in after.split()[:5]


async def test_markdown_splits_on_headings_first() -> None:
    body = "# Returns\n\n" + "Returns are free. " * 8 + "\n\n# Delivery\n\n" + "We ship. " * 8
    found = await passages(DocumentKind.MARKDOWN, body.encode())
    assert found[0].startswith("# Returns")
    assert any(p.startswith("# Delivery") for p in found)
    assert not any("Returns are free" in p and "We ship" in p for p in found)


async def test_csv_rows_keep_their_column_names() -> None:
    data = b"product;price;stock\nLamp;25 EUR;3\nDesk;300 EUR;\n"
    found = await passages(DocumentKind.CSV, data)
    assert found == ["product: Lamp; price: 25 EUR; stock: 3\nproduct: Desk; price: 300 EUR"]


async def test_undecodable_text_is_replaced_not_refused() -> None:
    found = await passages(DocumentKind.TEXT, b"caf\xe9 au lait and more words")
    assert found == ["caf\ufffd au lait and more words"]


@pytest.mark.parametrize(
    ("kind", "data", "reason"),
    [
        (DocumentKind.PDF, b"%PDF-1.4\nthis is not really a pdf", "cannot be read as a PDF"),
        (DocumentKind.DOCX, b"PK\x03\x04 broken zip", "cannot be read as a DOCX"),
        (DocumentKind.TEXT, b"   \n\n  ", "no text to index"),
        (DocumentKind.PDF, pdf_bytes(""), "no text to index"),
    ],
)
async def test_unreadable_documents_say_why(kind: DocumentKind, data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableDocument) as caught:
        await passages(kind, data)
    assert reason in caught.value.detail


async def test_limits() -> None:
    with pytest.raises(UnreadableDocument, match="larger than 100 bytes"):
        await passages(DocumentKind.TEXT, b"word " * 100, max_bytes=100)
    with pytest.raises(UnreadableDocument, match="more than 2"):
        await passages(DocumentKind.TEXT, ("word " * 100).encode(), max_chunks=2)
