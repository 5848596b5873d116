"""Conversation transcripts (`/api/v1/conversations/{id}/transcripts`): a job writes the
conversation to a PDF or CSV file in the tenant's storage; its state and signed link are
read here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.transcripts import TranscriptIn, TranscriptOut
from api.usecases.crm.transcripts import GetTranscript, RequestTranscript, TranscriptView

router = APIRouter(prefix="/conversations", tags=["transcripts"])

Exporter = Annotated[Principal, require(Permission.TRANSCRIPTS_EXPORT)]
WHY = (
    " Needs `inbox:read` and `transcripts:export` (owners and admins; not agents): a "
    "transcript carries a whole conversation (personal data, private notes, links to the "
    "customer's files) out of Parley."
)
CONTENT = (
    " Every message oldest first (direction; sender: the contact's or agent's name, bot, "
    "campaign; the time in the tenant's time zone and in UTC; the text or a description "
    "of the content: media as a link to Parley's copy of the file, valid as long as the "
    "transcript, else the provider's link; location, template, interactive, choices, "
    "reactions; edits, deletions and failures as stored), private notes marked as such, "
    "and the audited status changes (resolved, reopened, snoozed, assigned, handed off). "
    "CSV (UTF-8 with a byte order mark, CRLF): `time_utc, time_local, kind, direction, "
    "sender_type, sender, type, text, attachment, status, message_id`, every cell guarded "
    "against formula injection (a leading `'`). PDF: at most "
    "`TRANSCRIPT_PDF_MAX_ENTRIES` entries (`truncated` says when it stopped)."
)


@router.post(
    "/{conversation_id}/transcripts",
    status_code=202,
    summary="Export a conversation's transcript (a job)",
    description=(
        "Queues a job that writes the conversation to a `pdf` or `csv` file in the "
        "tenant's storage. Poll `GET /conversations/{id}/transcripts/{transcript_id}` for "
        "the state and the link. One transcript of a conversation is written at a time: "
        "asking again while one of the same format is queued or running answers that one; "
        "for the other format it is 409 `transcript_in_progress`; past "
        "`TRANSCRIPT_MAX_ACTIVE` queued or running in the tenant it is 429 `rate_limited` "
        "(`Retry-After`). Another tenant's "
        "conversation is 404; a broker that is down 503. Audited as "
        "`conversation.transcript_requested`." + WHY + CONTENT
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 429, 503),
)
async def request_transcript(
    conversation_id: str,
    body: TranscriptIn,
    principal: Exporter,
    use_case: Annotated[RequestTranscript, Inject(RequestTranscript)],
) -> TranscriptOut:
    transcript = await use_case.execute(principal, conversation_id, body.format)
    return TranscriptOut.of(TranscriptView(transcript=transcript))


@router.get(
    "/{conversation_id}/transcripts/{transcript_id}",
    summary="Read a conversation transcript",
    description=(
        "The state (`queued`, `running`, `ready`, `failed` with an `error`), the entries "
        "written, and when `ready` a signed link to the file (fresh on every read, valid "
        "`SIGNED_URL_TTL_SECONDS`; it needs no token) until `expires_at` "
        "(`TRANSCRIPT_TTL_HOURS` after it finished), then `url` is null and the file is "
        "deleted. Another tenant's (or another conversation's) transcript is 404." + WHY
    ),
    responses=problem_responses(401, 403, 404, 503),
)
async def get_transcript(
    conversation_id: str,
    transcript_id: str,
    principal: Exporter,
    use_case: Annotated[GetTranscript, Inject(GetTranscript)],
) -> TranscriptOut:
    return TranscriptOut.of(await use_case.execute(principal, conversation_id, transcript_id))
