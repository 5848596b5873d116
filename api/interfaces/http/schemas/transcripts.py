"""Conversation transcripts as the API reads and writes them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.domain.crm.transcripts import TranscriptFormat, TranscriptStatus
from api.usecases.crm.transcripts import TranscriptView


class TranscriptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: TranscriptFormat = Field(description="`pdf` or `csv`")


class TranscriptOut(BaseModel):
    id: str
    conversation_id: str
    format: TranscriptFormat
    status: TranscriptStatus = Field(description="`queued`, `running`, `ready` or `failed`")
    entries: int = Field(description="Messages, notes and status changes written (0 until ready)")
    truncated: bool = Field(
        description="The PDF stopped at `TRANSCRIPT_PDF_MAX_ENTRIES` (the CSV never does)"
    )
    url: str | None = Field(
        description=(
            "A signed link to the file, fresh on every read: only when `ready` and before "
            "`expires_at`; it needs no token"
        )
    )
    url_expires_at: datetime | None = Field(description="When `url` stops working")
    expires_at: datetime | None = Field(description="The file is offered until then")
    error: str | None = Field(description="Why it failed (`failed` only)")
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, view: TranscriptView) -> TranscriptOut:
        t = view.transcript
        assert t.id is not None  # noqa: S101 - stored
        return cls(
            id=t.id, conversation_id=t.conversation_id, format=t.format, status=t.status,
            entries=t.entries, truncated=t.truncated,
            url=view.link.url if view.link else None,
            url_expires_at=view.link.expires_at if view.link else None,
            expires_at=t.expires_at, error=t.error, created_at=t.created_at,
            finished_at=t.finished_at,
        )  # fmt: skip
