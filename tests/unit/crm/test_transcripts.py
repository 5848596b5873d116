"""Transcript rules without I/O: how each kind of message reads, the CSV (formula guard,
both times), the PDF (a non-Latin name kept, emoji as code points, stopped at its entry
limit), the job's failures (one that may pass given back for the retry, then `failed` on
the last attempt; one that will not pass `failed` at once with its reason), and the
sweep loop shared with the contact exports."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from api.domain.crm.transcripts import (
    EntryCounter,
    EntryKind,
    Transcript,
    TranscriptEntry,
    TranscriptFormat,
    TranscriptHeader,
    TranscriptLink,
    TranscriptStatus,
)
from api.domain.errors import InvalidInput, ServiceUnavailable
from api.domain.messaging.messages import (
    Direction,
    MediaLink,
    Message,
    MessageError,
    MessageSender,
    MessageStatus,
    SenderType,
)
from api.domain.tenancy import current_tenant
from api.infrastructure.transcripts.pdf import FpdfTranscriptWriter, printable
from api.infrastructure.transcripts.source import InboxTranscriptSource, describe
from api.usecases.crm.transcript_csv import csv_chunks
from api.usecases.crm.transcripts import RunTranscript, TranscriptPolicy
from api.usecases.kernel.file_sweep import sweep_expired_files
from tests.fakes.clock import FakeUtcClock

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def message(type: str = "text", text: str | None = None, **fields: Any) -> Message:
    return Message(
        conversation_id="conv", channel_id="ch", direction=Direction.INBOUND, type=type,
        text=text, sender=MessageSender(type=SenderType.CONTACT),
        status=MessageStatus.RECEIVED, created_at=T0, **fields,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("stored", "reads"),
    [
        (message(text="hi"), "hi"),
        (message("template", content={"kind": "template", "name": "order_update",
                                      "language": "en"}),
         "[template order_update (en)]"),
        (message("interactive", text=None, content={"kind": "interactive", "interactive": {
            "type": "button", "body": {"text": "Pick one"}}}), "[interactive button: Pick one]"),
        (message("interactive", content={"reply": {"id": "b1", "title": "Yes"}}, text="Yes"),
         "[chose: Yes] Yes"),
        (message("media", content={"kind": "media", "media_kind": "document",
                                   "link": "https://x.example/a.pdf", "filename": "a.pdf"}),
         "[document: a.pdf]"),
        (message("image", text="look", content={"media": {"media_id": "m1"}},
                 media=MediaLink(file_id="f", content_type="image/png", size=1,
                                 filename="image-1.png")),
         "[image: image-1.png] look"),
        (message("reaction", content={"reaction": {"message_id": "w", "emoji": None}}),
         "[reaction removed]"),
        (message("contacts", content={"contacts": [{}, {}]}), "[shared contacts: 2]"),
        (message(text="new words", content={"edited_at": T0, "original_text": "old words"}),
         "new words (edited at 2026-05-01T09:00:00+00:00; originally: old words)"),
        (message(text="gone", content={"deleted_at": T0}),
         "gone (deleted by the sender at 2026-05-01T09:00:00+00:00)"),
        (message("unsupported", error=MessageError(code=131051, title="Unsupported type")),
         "[unsupported message] (not delivered: Unsupported type)"),
    ],
)  # fmt: skip
def test_each_kind_of_message_reads_in_words(stored: Message, reads: str) -> None:
    assert describe(stored) == reads


class Links:
    async def link(self, file_id: str, *, expires_in: int) -> str | None:
        return f"https://files.example/{file_id}?ttl={expires_in}" if file_id == "f" else None


async def test_attachments_are_the_stored_copy_else_the_provider_link() -> None:
    nothing = cast(Any, None)
    source = InboxTranscriptSource(nothing, nothing, nothing, Links())
    stored = message("image", media=MediaLink(file_id="f", content_type="image/png", size=1,
                                              filename="i.png"))  # fmt: skip
    assert await source._attachment(stored, 60) == "https://files.example/f?ttl=60"
    provider = message("media", content={"kind": "media", "link": "https://x.example/a.pdf"})
    assert await source._attachment(provider, 60) == "https://x.example/a.pdf"
    not_copied = message("image", content={"media": {"media_id": "m1"}})
    assert await source._attachment(not_copied, 60) == "(not stored: provider media id m1)"
    assert await source._attachment(message(text="hi"), 60) is None


def entry(n: int, text: str = "", kind: EntryKind = EntryKind.MESSAGE) -> TranscriptEntry:
    return TranscriptEntry(
        at=T0 + timedelta(minutes=n), kind=kind, direction="inbound", sender_type="contact",
        sender="Зоя", type="text", text=text or f"message {n}", message_id=f"m{n}",
    )  # fmt: skip


async def batches(*groups: list[TranscriptEntry]) -> AsyncIterator[list[TranscriptEntry]]:
    for group in groups:
        yield group


async def test_the_csv_guards_formulas_and_gives_both_times() -> None:
    counter = EntryCounter()
    chunks = csv_chunks(
        batches([entry(0, "=1+2")], [entry(1, "+447700900123"), entry(2, "@x")]),
        ZoneInfo("America/New_York"), counter,
    )  # fmt: skip
    data = b"".join([chunk async for chunk in chunks]).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(data.removeprefix("\ufeff"))))
    assert [row["text"] for row in rows] == ["'=1+2", "+447700900123", "'@x"]
    assert rows[0]["time_utc"] == "2026-05-01T09:00:00+00:00"
    assert rows[0]["time_local"] == "2026-05-01T05:00:00-04:00"
    assert counter.entries == 3 and not counter.truncated


def test_what_the_font_cannot_draw_is_written_as_its_code_point() -> None:
    assert printable("Зоя Ελένη Ünïcödé") == "Зоя Ελένη Ünïcödé"
    assert printable("ok 👍\ufe0f") == "ok <U+1F44D>"
    assert printable("张") == "<U+5F20>"


HEADER = TranscriptHeader(
    conversation_id="conv", contact_name="Зоя Иванова", contact_phone="+447700900123",
    channel_type="whatsapp", status="open", created_at=T0, timezone="Europe/Berlin",
)  # fmt: skip


async def test_the_pdf_stops_at_its_entry_limit() -> None:
    counter = EntryCounter()
    chunks = FpdfTranscriptWriter().chunks(
        HEADER, batches([entry(0), entry(1)], [entry(2), entry(3, "note!", EntryKind.NOTE)],
                        [entry(4)]),
        max_entries=3, counter=counter,
    )  # fmt: skip
    data = b"".join([chunk async for chunk in chunks])
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert counter.entries == 3 and counter.truncated
    assert "Зоя Иванова" in text and "message 2" in text and "message 3" not in text
    assert "The PDF stops here, after 3 entries" in text
    assert "2026-05-01 11:00:00 CEST (2026-05-01 09:00:00 UTC)" in text


class Transcripts:
    def __init__(self, format: TranscriptFormat = TranscriptFormat.CSV) -> None:
        self.t = Transcript(id="t1", conversation_id="conv", format=format, created_at=T0)

    async def get(self, transcript_id: str) -> Transcript | None:
        return self.t if transcript_id == self.t.id else None

    async def claim(self, transcript_id: str, *, at: datetime, lease_until: datetime) -> bool:
        if self.t.status is not TranscriptStatus.QUEUED:
            return False
        self.t = self.t.model_copy(update={"status": TranscriptStatus.RUNNING})
        return True

    async def finish(self, transcript_id: str, **fields: Any) -> bool:
        fields.pop("at")
        self.t = self.t.model_copy(update={"status": TranscriptStatus.READY, **fields})
        return True

    async def fail(self, transcript_id: str, *, error: str, at: datetime) -> bool:
        self.t = self.t.model_copy(update={"status": TranscriptStatus.FAILED, "error": error})
        return True

    async def release(self, transcript_id: str) -> None:
        self.t = self.t.model_copy(update={"status": TranscriptStatus.QUEUED})


class Source:
    async def header(self, conversation_id: str) -> TranscriptHeader | None:
        return HEADER if conversation_id == "conv" else None

    async def entries(
        self, conversation_id: str, *, batch_size: int, links_valid_for: int
    ) -> AsyncIterator[list[TranscriptEntry]]:
        assert links_valid_for == 7200
        for start in range(0, 5, batch_size):
            yield [entry(n) for n in range(start, min(start + batch_size, 5))]


class Files:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.stored: dict[str, bytes] = {}

    async def store(
        self, filename: str, chunks: AsyncIterator[bytes], owner_id: str, format: Any
    ) -> str:
        data = b"".join([chunk async for chunk in chunks])
        if self.error is not None:
            raise self.error
        self.stored[filename] = data
        return "file-1"

    async def link(self, file_id: str) -> TranscriptLink | None:
        raise NotImplementedError


def run(
    files: Files, format: TranscriptFormat = TranscriptFormat.CSV
) -> tuple[RunTranscript, Transcripts]:
    transcripts = Transcripts(format)
    policy = TranscriptPolicy(ttl=timedelta(hours=2), lease=timedelta(minutes=6), batch_size=2)
    use_case = RunTranscript(
        transcripts, Source(), files, FpdfTranscriptWriter(), FakeUtcClock(), policy,  # type: ignore[arg-type]
    )  # fmt: skip
    return use_case, transcripts


@pytest.mark.parametrize("format", list(TranscriptFormat))
async def test_the_job_writes_every_batch(format: TranscriptFormat) -> None:
    files = Files()
    use_case, transcripts = run(files, format)
    assert await use_case.execute("t1")
    assert transcripts.t.status is TranscriptStatus.READY and transcripts.t.entries == 5
    [(name, data)] = files.stored.items()
    assert name == f"conversation-conv-20260501-090000.{format.value}"
    assert data.startswith(b"%PDF" if format is TranscriptFormat.PDF else b"\xef\xbb\xbf")
    assert not await use_case.execute("t1")  # ready: a redelivery does nothing


async def test_a_failure_that_may_pass_is_retried_then_failed() -> None:
    use_case, transcripts = run(Files(ServiceUnavailable("storage")))
    with pytest.raises(ServiceUnavailable):
        await use_case.execute("t1", final_attempt=False)
    assert transcripts.t.status is TranscriptStatus.QUEUED  # given back for the retry
    with pytest.raises(ServiceUnavailable):
        await use_case.execute("t1", final_attempt=True)
    failed: Transcript = transcripts.t
    assert failed.status is TranscriptStatus.FAILED and failed.error


async def test_a_failure_that_will_not_pass_fails_at_once_with_its_reason() -> None:
    use_case, transcripts = run(Files(InvalidInput("The storage refused the file.")))
    with pytest.raises(InvalidInput):
        await use_case.execute("t1", final_attempt=False)
    assert transcripts.t.status is TranscriptStatus.FAILED
    assert transcripts.t.error == "The storage refused the file."


async def test_the_sweep_deletes_in_each_records_tenant_and_stops_when_nothing_moves() -> None:
    records = {("a" * 24, "r1"): "f1", ("b" * 24, "r2"): "f2", ("a" * 24, "r3"): None}
    removed: list[tuple[str, str]] = []

    async def due(at: datetime, limit: int) -> list[tuple[str, str]]:
        return [key for key, file in records.items() if file is not None or key[1] == "r3"]

    async def file_of(record_id: str) -> str | None:
        return next(f for (t, r), f in records.items() if r == record_id)

    async def remove(file_id: str) -> None:
        removed.append((current_tenant(), file_id))

    async def purged(record_id: str, file_id: str) -> bool:
        key = next(k for k in records if k[1] == record_id)
        records[key] = None
        return True

    deleted = await sweep_expired_files(T0, due=due, file_of=file_of, remove=remove,
                                        purged=purged, batch=3)  # fmt: skip
    assert deleted == 2 and removed == [("a" * 24, "f1"), ("b" * 24, "f2")]
