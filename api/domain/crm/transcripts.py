"""Conversation transcripts: a job writes one conversation (every message, private note
and status change, oldest first) to a PDF or CSV file in the tenant's storage, then
offers it by signed link, for tickets and compliance.

A transcript is `queued` when asked for, `running` while the job writes it, then `ready`
(with `entries` and the stored file) or `failed` (with an `error`). At most one transcript
of a conversation is queued or running at a time (`active_key`, the conversation's id,
set only then, is unique per tenant). A ready transcript's file is offered until
`expires_at`; then a periodic job deletes the file (`purge_at` marks the transcripts
whose file is still to be deleted).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel

from api.domain.errors import Conflict


class TranscriptFormat(StrEnum):
    PDF = "pdf"
    CSV = "csv"


class TranscriptStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"


ACTIVE_STATUSES = frozenset({TranscriptStatus.QUEUED, TranscriptStatus.RUNNING})


class Transcript(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    conversation_id: str
    format: TranscriptFormat
    status: TranscriptStatus = TranscriptStatus.QUEUED
    requested_by: str | None = None
    entries: int = 0  # messages, notes and status changes written
    truncated: bool = False  # the PDF stopped at its entry limit (the CSV never does)
    file_id: str | None = None  # the stored file, once ready
    error: str | None = None  # why it failed
    attempts: int = 0
    lease_until: datetime | None = None  # a running job's hold (a crashed one lets go)
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = None  # the file is offered until then
    purge_at: datetime | None = None  # the file is to be deleted then (None: nothing to do)


class TranscriptInProgress(Conflict):
    """The conversation has a transcript of the other format queued or running."""

    code = "transcript_in_progress"


class EntryKind(StrEnum):
    MESSAGE = "message"
    NOTE = "note"  # a private note: agents only, never sent to the customer
    EVENT = "event"  # a status change of the conversation (resolved, reopened, ...)


class TranscriptEntry(BaseModel):
    """One line of a transcript, in provider-neutral words."""

    at: datetime  # UTC
    kind: EntryKind
    direction: str | None = None  # inbound / outbound (messages and notes)
    sender_type: str  # contact, agent, bot, campaign, system
    sender: str  # the contact's or agent's name, "Bot", "System"...
    type: str  # the message type (text, image, ...), or the event's action
    text: str = ""  # the text, or a description of the content
    attachment: str | None = None  # a signed link to the stored file, or the provider's
    status: str | None = None  # the delivery status of a message
    message_id: str | None = None


class TranscriptHeader(BaseModel):
    """What a transcript says about its conversation before the entries."""

    conversation_id: str
    contact_name: str | None = None
    contact_phone: str | None = None
    channel_type: str
    status: str
    created_at: datetime
    timezone: str  # IANA: entries are shown in it and in UTC


class TranscriptSource(Protocol):
    """The conversation to transcribe, in the current tenant (the messaging context's data,
    read through this port)."""

    async def header(self, conversation_id: str) -> TranscriptHeader | None:
        """None when the conversation is not the tenant's."""
        ...

    def entries(
        self, conversation_id: str, *, batch_size: int, links_valid_for: int
    ) -> AsyncIterator[list[TranscriptEntry]]:
        """Every message, note and status change, oldest first, at most `batch_size` at a
        time (memory bounded whatever the length); media as links valid
        `links_valid_for` seconds."""
        ...


class TranscriptRepository(Protocol):
    """Transcripts of the current tenant (scoped by the context; fail closed without one)."""

    async def add(self, transcript: Transcript) -> Transcript:
        """Store a queued transcript; `Conflict` when the conversation has one queued or
        running already (atomic: of two racing requests one is stored)."""
        ...

    async def get(self, transcript_id: str) -> Transcript | None: ...

    async def active(self, conversation_id: str) -> Transcript | None:
        """The conversation's queued or running transcript, if any."""
        ...

    async def count_active(self) -> int:
        """How many of the tenant's transcripts are queued or running."""
        ...

    async def claim(self, transcript_id: str, *, at: datetime, lease_until: datetime) -> bool:
        """Mark it `running` (attempts + 1) when it is `queued`, or `running` with a lease
        that ran out before `at`; False otherwise. Atomic."""
        ...

    async def finish(
        self,
        transcript_id: str,
        *,
        file_id: str,
        entries: int,
        truncated: bool,
        at: datetime,
        expires_at: datetime,
    ) -> bool:
        """Mark the running transcript `ready` with its file (due for deletion at
        `expires_at`)."""
        ...

    async def fail(self, transcript_id: str, *, error: str, at: datetime) -> bool:
        """Mark it `failed` with `error`, unless it is ready already."""
        ...

    async def release(self, transcript_id: str) -> None:
        """Give a running transcript back (`queued`) after a failure that will be retried."""
        ...

    async def purged(self, transcript_id: str, file_id: str) -> bool:
        """Record that the file `file_id` is deleted (`file_id` and `purge_at` cleared)."""
        ...


class DueTranscript(BaseModel):
    """A ready transcript whose file is due for deletion, in whichever tenant."""

    tenant_id: str
    transcript_id: str


class ExpiredTranscripts(Protocol):
    """The one cross-tenant read of transcripts: those whose file is due for deletion."""

    async def due(self, at: datetime, limit: int) -> list[DueTranscript]: ...


class TranscriptLink(BaseModel):
    """A signed download link of a transcript's file, valid until `expires_at`."""

    url: str
    expires_at: datetime


class TranscriptFiles(Protocol):
    """Where transcript files go: the tenant's storage, through the files feature."""

    async def store(
        self, filename: str, chunks: AsyncIterator[bytes], owner_id: str, format: TranscriptFormat
    ) -> str:
        """Store the file streamed in `chunks` as one of the tenant's files; its id."""
        ...

    async def link(self, file_id: str) -> TranscriptLink | None:
        """A fresh signed download link; None when the file is gone."""
        ...

    async def remove(self, file_id: str) -> None:
        """Delete the file (blob and record); one already gone is not an error."""
        ...


class FileLinks(Protocol):
    """Signed links to the tenant's stored files (a message's media), for a transcript."""

    async def link(self, file_id: str, *, expires_in: int) -> str | None:
        """A link valid `expires_in` seconds; None when the file is gone."""
        ...


class PdfWriter(Protocol):
    """Renders a transcript as PDF (the library lives in infrastructure)."""

    def chunks(
        self,
        header: TranscriptHeader,
        batches: AsyncIterator[list[TranscriptEntry]],
        *,
        max_entries: int,
        counter: EntryCounter,
    ) -> AsyncIterator[bytes]:
        """The PDF's bytes; at most `max_entries` entries (then a line says the rest is
        left out and `counter.truncated` is set)."""
        ...


class EntryCounter:
    """Counts the entries a writer wrote, and whether it stopped at its limit."""

    def __init__(self) -> None:
        self.entries = 0
        self.truncated = False
