"""CRM tasks: write a conversation's transcript; delete expired transcripts' files."""

from __future__ import annotations

import punq

from api.interfaces.jobs.base import is_last_attempt, parley_task
from api.usecases.crm.transcripts import (
    SWEEP_TRANSCRIPTS_JOB,
    TRANSCRIPT_JOB,
    RunTranscript,
    SweepExpiredTranscripts,
)


@parley_task(TRANSCRIPT_JOB)
async def write_transcript(container: punq.Container, transcript_id: str) -> bool:
    """Write the transcript's PDF or CSV into the tenant's storage (see `RunTranscript`);
    storage or database outages are retried with backoff, then the transcript is
    `failed`."""
    use_case: RunTranscript = container.resolve(RunTranscript)
    return await use_case.execute(transcript_id, final_attempt=is_last_attempt())


@parley_task(SWEEP_TRANSCRIPTS_JOB)
async def sweep_transcripts(container: punq.Container) -> int:
    """Periodic (beat): delete the files of transcripts past `expires_at`, in every tenant
    (see `SweepExpiredTranscripts`)."""
    return await container.resolve(SweepExpiredTranscripts).execute()
