"""Conversation transcripts: ask for one (`POST /conversations/{id}/transcripts`), read
its state and signed link, the job that writes the file and the sweep that deletes
expired files.

Why `transcripts:export` on top of `inbox:read`: a transcript takes a whole conversation
(the customer's personal data, private notes, links to their files) out of Parley in one
file, as a contact export does (`contacts:export`); agents read conversations in the inbox
and should not carry them away. Owners and admins have it; give it to other roles on
purpose.

Rules:
- the conversation must be the tenant's (and visible to the caller), else 404;
- at most one transcript of a conversation is queued or running: asking again for the
  same format answers that one (no second job), for the other format is 409
  `transcript_in_progress` (atomic: a unique key decides between racing requests); and at
  most `max_active` of the tenant's (a soft bound: 429 `rate_limited` past it, so one
  tenant cannot fill the job queue); one whose job was lost (queued for `stale_after`
  without a run, or running under a lease that ran out) is `failed` when the
  conversation's transcript is asked for again, so a lost job never blocks it;
- the job reads the conversation in batches (`TranscriptPolicy.batch_size`, oldest
  first: memory bounded whatever its length) and streams the file into the tenant's
  storage through the files feature: CSV (`transcript_csv`) or PDF (`PdfWriter`, at most
  `pdf_max_entries` entries, then a line says the rest is left out: the CSV has them all);
  media are links valid as long as the transcript (`ttl`);
- a ready transcript is offered by a fresh signed link until `expires_at` (`ttl` after it
  finished); then `url` is null and the periodic sweep deletes the file;
- failures as for contact exports: one that may pass is retried by the job and `failed`
  only after the last attempt; a worker that died leaves a lease that runs out;
- audited: `conversation.transcript_requested`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel

from api.domain.clock import Clock
from api.domain.crm.transcripts import (
    ACTIVE_STATUSES,
    EntryCounter,
    ExpiredTranscripts,
    PdfWriter,
    Transcript,
    TranscriptFiles,
    TranscriptFormat,
    TranscriptHeader,
    TranscriptInProgress,
    TranscriptLink,
    TranscriptRepository,
    TranscriptSource,
    TranscriptStatus,
)
from api.domain.errors import (
    Conflict,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    TemporaryFailure,
)
from api.domain.identity.auth import Principal
from api.domain.jobs import JobQueue
from api.domain.permissions import Permission
from api.usecases.crm.transcript_csv import csv_chunks
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_time
from api.usecases.kernel.file_sweep import failure_reason, sweep_expired_files

TRANSCRIPT_JOB = "parley.crm.transcript"
SWEEP_TRANSCRIPTS_JOB = "parley.crm.sweep_transcripts"
TRANSCRIPT_PURPOSE = "conversation_transcript"
CONVERSATION_NOT_FOUND = "Conversation not found."
TRANSCRIPT_NOT_FOUND = "Transcript not found."
IN_PROGRESS = (
    "A {format} transcript of this conversation is being written; ask again when it is "
    "ready or failed."
)
TOO_MANY = "Too many transcripts of this tenant are being written; ask again when some are ready."
LOST = "The job writing this transcript was lost; it was asked for again."
_RETRYABLE = (TemporaryFailure, ServiceUnavailable, TimeoutError)


@dataclass(frozen=True)
class TranscriptPolicy:
    """How long a ready transcript's file (and the media links in it) is offered, how long
    a run holds its transcript, how many entries are read at a time, and the most a PDF
    holds."""

    ttl: timedelta
    lease: timedelta
    batch_size: int = 200
    pdf_max_entries: int = 20_000
    max_active: int = 10
    retry_after_seconds: int = 30
    stale_after: timedelta = timedelta(hours=1)  # a queued one whose job never ran


class TranscriptView(BaseModel):
    """A transcript as the API shows it: `link` only when ready and not expired."""

    transcript: Transcript
    link: TranscriptLink | None = None


def _require(principal: Principal) -> None:
    require_permission(principal, Permission.INBOX_READ)
    require_permission(principal, Permission.TRANSCRIPTS_EXPORT)


class RequestTranscript:
    def __init__(
        self,
        transcripts: TranscriptRepository,
        source: TranscriptSource,
        jobs: JobQueue,
        clock: Clock,
        auditor: Auditor,
        policy: TranscriptPolicy,
    ) -> None:
        self._transcripts = transcripts
        self._source = source
        self._jobs = jobs
        self._clock = clock
        self._auditor = auditor
        self._policy = policy

    async def execute(
        self, principal: Principal, conversation_id: str, format: TranscriptFormat
    ) -> Transcript:
        _require(principal)
        if await self._source.header(conversation_id) is None:
            raise NotFound(CONVERSATION_NOT_FOUND)
        running = await self._transcripts.active(conversation_id)
        if running is not None and self._lost(running):
            assert running.id is not None  # noqa: S101 - stored
            await self._transcripts.fail(running.id, error=LOST, at=self._clock.now())
            running = None
        if running is not None:
            return _reused(running, format)
        if await self._transcripts.count_active() >= self._policy.max_active:
            raise RateLimited(self._policy.retry_after_seconds, TOO_MANY)
        try:
            transcript = await self._transcripts.add(
                Transcript(
                    conversation_id=conversation_id, format=format,
                    requested_by=principal.user_id, created_at=stored_time(self._clock.now()),
                )
            )  # fmt: skip
        except Conflict:  # another request stored one first
            running = await self._transcripts.active(conversation_id)
            if running is None:
                raise
            return _reused(running, format)
        assert transcript.id is not None  # noqa: S101 - stored
        try:
            await self._jobs.enqueue(TRANSCRIPT_JOB, transcript_id=transcript.id)
        except BaseException:
            await self._transcripts.fail(
                transcript.id, error="The job could not be queued.", at=self._clock.now()
            )
            raise
        await self._auditor.record(
            "conversation.transcript_requested", "conversation_transcript", transcript.id,
            actor_id=principal.user_id,
            changes=audit_extra(
                principal, {"conversation_id": conversation_id, "format": format.value}
            ),
        )  # fmt: skip
        return transcript

    def _lost(self, transcript: Transcript) -> bool:
        """Its job is gone: queued for `stale_after` without a run, or running under a
        lease that ran out (the worker died and the job was not delivered again)."""
        now = self._clock.now()
        if transcript.status is TranscriptStatus.RUNNING:
            return transcript.lease_until is not None and transcript.lease_until < now
        return transcript.created_at + self._policy.stale_after < now


def _reused(running: Transcript, format: TranscriptFormat) -> Transcript:
    if running.format is not format:
        raise TranscriptInProgress(IN_PROGRESS.format(format=running.format.value.upper()))
    return running


class GetTranscript:
    """A transcript's state; when ready and not expired, a fresh signed link to its file.
    Another tenant's (or another conversation's) transcript is 404."""

    def __init__(
        self,
        transcripts: TranscriptRepository,
        source: TranscriptSource,
        files: TranscriptFiles,
        clock: Clock,
    ) -> None:
        self._transcripts = transcripts
        self._source = source
        self._files = files
        self._clock = clock

    async def execute(
        self, principal: Principal, conversation_id: str, transcript_id: str
    ) -> TranscriptView:
        _require(principal)
        transcript = await self._transcripts.get(transcript_id)
        if transcript is None or transcript.conversation_id != conversation_id:
            raise NotFound(TRANSCRIPT_NOT_FOUND)
        if await self._source.header(conversation_id) is None:  # not (or no more) visible
            raise NotFound(TRANSCRIPT_NOT_FOUND)
        link = None
        live = transcript.expires_at is not None and transcript.expires_at > self._clock.now()
        if transcript.status is TranscriptStatus.READY and transcript.file_id and live:
            link = await self._files.link(transcript.file_id)
        return TranscriptView(transcript=transcript, link=link)


class RunTranscript:
    """The job's work (see the module's rules); True when this run wrote the file."""

    def __init__(
        self,
        transcripts: TranscriptRepository,
        source: TranscriptSource,
        files: TranscriptFiles,
        pdf: PdfWriter,
        clock: Clock,
        policy: TranscriptPolicy,
    ) -> None:
        self._transcripts = transcripts
        self._source = source
        self._files = files
        self._pdf = pdf
        self._clock = clock
        self._policy = policy

    async def execute(self, transcript_id: str, *, final_attempt: bool = True) -> bool:
        transcript = await self._transcripts.get(transcript_id)
        now = self._clock.now()
        if transcript is None or transcript.status not in ACTIVE_STATUSES:
            return False
        if not await self._transcripts.claim(
            transcript_id, at=now, lease_until=now + self._policy.lease
        ):
            return False
        try:
            file_id, counter = await self._write(transcript)
        except _RETRYABLE as exc:
            if not final_attempt:
                await self._transcripts.release(transcript_id)
                raise
            await self._fail(transcript_id, exc)
            raise
        except BaseException as exc:
            await self._fail(transcript_id, exc)
            raise
        finished = self._clock.now()
        await self._transcripts.finish(
            transcript_id, file_id=file_id, entries=counter.entries,
            truncated=counter.truncated, at=finished, expires_at=finished + self._policy.ttl,
        )  # fmt: skip
        return True

    async def _fail(self, transcript_id: str, exc: BaseException) -> None:
        error = failure_reason(exc, "transcript")
        await self._transcripts.fail(transcript_id, error=error, at=self._clock.now())

    async def _write(self, transcript: Transcript) -> tuple[str, EntryCounter]:
        assert transcript.id is not None  # noqa: S101 - stored
        header = await self._source.header(transcript.conversation_id)
        if header is None:
            raise NotFound(CONVERSATION_NOT_FOUND)
        batches = self._source.entries(
            transcript.conversation_id, batch_size=self._policy.batch_size,
            links_valid_for=int(self._policy.ttl.total_seconds()),
        )  # fmt: skip
        counter = EntryCounter()
        if transcript.format is TranscriptFormat.CSV:
            chunks = csv_chunks(batches, _zone(header), counter)
        else:
            chunks = self._pdf.chunks(
                header, batches, max_entries=self._policy.pdf_max_entries, counter=counter
            )
        name = _filename(transcript, header)
        file_id = await self._files.store(name, chunks, transcript.id, transcript.format)
        return file_id, counter


def _zone(header: TranscriptHeader) -> ZoneInfo:
    try:
        return ZoneInfo(header.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _filename(transcript: Transcript, header: TranscriptHeader) -> str:
    stamp = transcript.created_at.strftime("%Y%m%d-%H%M%S")
    return f"conversation-{header.conversation_id}-{stamp}.{transcript.format.value}"


class SweepExpiredTranscripts:
    """Periodic (beat): delete the files of the transcripts whose `expires_at` has passed,
    in every tenant (the contact exports' sweep: `sweep_expired_files`). How many files
    were deleted."""

    def __init__(
        self,
        due: ExpiredTranscripts,
        transcripts: TranscriptRepository,
        files: TranscriptFiles,
        clock: Clock,
    ) -> None:
        self._due = due
        self._transcripts = transcripts
        self._files = files
        self._clock = clock

    async def execute(self) -> int:
        return await sweep_expired_files(
            self._clock.now(), due=self._due_ids, file_of=self._file_of,
            remove=self._files.remove, purged=self._transcripts.purged,
        )  # fmt: skip

    async def _due_ids(self, at: datetime, limit: int) -> list[tuple[str, str]]:
        return [(d.tenant_id, d.transcript_id) for d in await self._due.due(at, limit)]

    async def _file_of(self, transcript_id: str) -> str | None:
        transcript = await self._transcripts.get(transcript_id)
        return transcript.file_id if transcript is not None else None
