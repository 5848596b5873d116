"""Conversation transcripts: their records, the conversation read through the inbox's
data, their files (on the files feature's store), the PDF writer and their policy (a
run's lease outlasts the job time limit)."""

from __future__ import annotations

from datetime import timedelta

import punq

from api.config import Settings
from api.domain.crm.transcripts import (
    ExpiredTranscripts,
    FileLinks,
    PdfWriter,
    TranscriptFiles,
    TranscriptRepository,
    TranscriptSource,
)
from api.infrastructure.persistence.crm.transcripts import (
    BeanieTranscriptRepository,
    PlatformExpiredTranscripts,
)
from api.infrastructure.transcripts.pdf import FpdfTranscriptWriter
from api.infrastructure.transcripts.source import InboxTranscriptSource
from api.usecases.crm.transcripts import TranscriptPolicy
from api.wiring.clients import Clients
from api.wiring.export_files import FileStoreTranscriptFiles, StoredFileLinks


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    container.register(TranscriptRepository, BeanieTranscriptRepository)
    container.register(ExpiredTranscripts, instance=PlatformExpiredTranscripts())
    container.register(TranscriptFiles, FileStoreTranscriptFiles)  # FileStore: discovered later
    container.register(FileLinks, StoredFileLinks)
    container.register(TranscriptSource, InboxTranscriptSource)
    container.register(PdfWriter, instance=FpdfTranscriptWriter())
    policy = TranscriptPolicy(
        ttl=timedelta(hours=settings.transcript_ttl_hours),
        lease=timedelta(seconds=settings.jobs.job_time_limit_seconds + 60),
        pdf_max_entries=settings.transcript_pdf_max_entries,
        max_active=settings.transcript_max_active,
    )
    container.register(TranscriptPolicy, instance=policy)
