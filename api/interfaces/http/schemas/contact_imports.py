"""Contact imports as the API shows them (API.md's Contacts section)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.domain.messaging.imports import ContactImport, ImportFormat, ImportStatus

CURSOR_NOTE = "`null` on the last page; else pass it as `cursor` for the next one."


class ContactImportOut(BaseModel):
    id: str
    status: ImportStatus = Field(description="`queued`, `running`, `done` or `failed`")
    dry_run: bool = Field(description="Checked and counted only: no contact was written")
    filename: str
    format: ImportFormat
    mapping: dict[str, str]
    total_rows: int | None = Field(description="Rows after the header; null until counted")
    processed_rows: int = Field(description="Rows settled so far (each has its result)")
    created: int = Field(description="Contacts created (a dry run: would be)")
    updated: int = Field(description="Contacts updated (a dry run: would be)")
    skipped: int = Field(description="Blank rows")
    failed: int = Field(description="Rows refused: see `errors_url`")
    error: str | None = Field(description="Why a `failed` import could not go on")
    errors_url: str = Field(description="The CSV report of failed and skipped rows")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, contact_import: ContactImport, errors_url: str) -> ContactImportOut:
        assert contact_import.id is not None  # noqa: S101 - stored
        return cls(
            errors_url=errors_url,
            **contact_import.model_dump(
                include={
                    "id", "status", "dry_run", "filename", "format", "mapping", "total_rows",
                    "processed_rows", "created", "updated", "skipped", "failed", "error",
                    "created_at", "started_at", "finished_at",
                }
            ),
        )  # fmt: skip


class ContactImportPageOut(BaseModel):
    items: list[ContactImportOut]
    next_cursor: str | None = Field(description=CURSOR_NOTE)
