"""CRM meetings (`/api/v1/meetings`): reading needs `crm:read`, changes `crm:write`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query
from pydantic import AwareDatetime

from api.domain.crm.meetings import MeetingQuery, MeetingStatus
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.crm_meetings import (
    MeetingIn,
    MeetingOut,
    MeetingPageOut,
    MeetingPatchIn,
    RescheduleIn,
)
from api.usecases.crm.meetings import (
    ChangeMeetingStatus,
    CreateMeeting,
    GetMeeting,
    ListMeetings,
    RescheduleMeeting,
    UpdateMeeting,
)

router = APIRouter(prefix="/meetings", tags=["meetings"])

Reader = Annotated[Principal, require(Permission.CRM_READ)]
Writer = Annotated[Principal, require(Permission.CRM_WRITE)]
IdQuery = Annotated[str | None, Query(min_length=1, max_length=64)]
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=200, description="`next_cursor` of the previous page."),
]
Limit = Annotated[int, Query(ge=1, le=100, description="Items per page (at most 100).")]
OUTPUT = (
    " Answers give `starts_at`/`ends_at` in UTC and `starts_at_local`/`ends_at_local` as "
    "wall time in `local_timezone` (the meeting's `timezone`, else the tenant's)."
)
RULES = (
    " Times need a UTC offset (naive ones are 422); the end is after the start, within 7 "
    "days (422 `invalid_meeting`, like an unknown IANA `timezone`, contact or owner, or bad "
    "reminders). The owner's meetings that are not cancelled never overlap (409 "
    "`meeting_overlap`, also under concurrent requests)."
)
LIFECYCLE = (
    " Lifecycle: proposed -> confirmed | rescheduled | cancelled; confirmed -> rescheduled | "
    "cancelled | completed | no_show; rescheduled -> confirmed | rescheduled | cancelled; "
    "others are final. Anything else is 409 `meeting_state_conflict`."
)


@router.post(
    "",
    status_code=201,
    summary="Create a meeting",
    description=(
        "Needs `crm:write`. Status `proposed`; reminders are planned. Audited "
        "`meeting.created`. A department outside the caller's is 403." + RULES + OUTPUT
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def create_meeting(
    body: Annotated[MeetingIn, Body()],
    principal: Writer,
    use_case: Annotated[CreateMeeting, Inject(CreateMeeting)],
) -> MeetingOut:
    return MeetingOut.of(await use_case.execute(principal, body.to_new()))


@router.get(
    "",
    summary="List meetings",
    description=(
        "Needs `crm:read`. Earliest start first, by cursor (a cursor this list did not give "
        "is 422). Filters combine: `owner_id`, `status`, `contact_id`, `lead_id`, "
        "`department_id`, and the start between `from` (inclusive) and `to` (exclusive), "
        "aware times. Only the caller's departments' meetings when they are limited." + OUTPUT
    ),
    responses=problem_responses(401, 403, 422, 503),
)
async def list_meetings(
    principal: Reader,
    use_case: Annotated[ListMeetings, Inject(ListMeetings)],
    owner_id: IdQuery = None,
    status: Annotated[MeetingStatus | None, Query()] = None,
    contact_id: IdQuery = None,
    lead_id: IdQuery = None,
    department_id: IdQuery = None,
    starts_from: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    starts_before: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> MeetingPageOut:
    query = MeetingQuery(
        owner_id=owner_id, status=status, contact_id=contact_id, lead_id=lead_id,
        department_id=department_id, starts_from=starts_from, starts_before=starts_before,
    )  # fmt: skip
    page, zone = await use_case.execute(principal, query, cursor=cursor, limit=limit)
    return MeetingPageOut.of(page, zone)


@router.get(
    "/{meeting_id}",
    summary="Read a meeting",
    description="Needs `crm:read`. Another tenant's (or department's) meeting is 404." + OUTPUT,
    responses=problem_responses(401, 403, 404, 503),
)
async def get_meeting(
    meeting_id: str,
    principal: Reader,
    use_case: Annotated[GetMeeting, Inject(GetMeeting)],
) -> MeetingOut:
    return MeetingOut.of(await use_case.execute(principal, meeting_id))


@router.patch(
    "/{meeting_id}",
    summary="Change a meeting's details",
    description=(
        "Needs `crm:write`. Title, contact, zone, location, lead, owner (who must be free "
        "then), department, reminders (re-planned) and the reminder template; the times "
        "change through `reschedule`. A cancelled, completed or no-show meeting is 409 "
        "`meeting_state_conflict`. Audited `meeting.updated`." + RULES
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def update_meeting(
    meeting_id: str,
    body: Annotated[MeetingPatchIn, Body()],
    principal: Writer,
    use_case: Annotated[UpdateMeeting, Inject(UpdateMeeting)],
) -> MeetingOut:
    return MeetingOut.of(await use_case.execute(principal, meeting_id, body.to_changes()))


@router.post(
    "/{meeting_id}/reschedule",
    summary="Reschedule a meeting",
    description=(
        "Needs `crm:write`. New times: status `rescheduled` (confirm it again), the pending "
        "reminders of the old times cancelled and new ones planned. Audited "
        "`meeting.rescheduled`." + RULES + LIFECYCLE
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def reschedule_meeting(
    meeting_id: str,
    body: Annotated[RescheduleIn, Body()],
    principal: Writer,
    use_case: Annotated[RescheduleMeeting, Inject(RescheduleMeeting)],
) -> MeetingOut:
    return MeetingOut.of(
        await use_case.execute(
            principal, meeting_id, body.starts_at, body.ends_at, timezone=body.timezone
        )
    )


def _status_route(
    path: str, verb: str, target: MeetingStatus, summary: str, extra: str = ""
) -> None:
    async def change(
        meeting_id: str,
        principal: Writer,
        use_case: Annotated[ChangeMeetingStatus, Inject(ChangeMeetingStatus)],
    ) -> MeetingOut:
        return MeetingOut.of(await use_case.execute(principal, meeting_id, target))

    router.post(
        f"/{{meeting_id}}/{path}",
        summary=summary,
        description=f"Needs `crm:write`.{extra} Audited `meeting.{target.value}`." + LIFECYCLE,
        responses=problem_responses(401, 403, 404, 409, 503),
        name=f"{verb}_meeting",
    )(change)


_status_route("confirm", "confirm", MeetingStatus.CONFIRMED, "Confirm a meeting")
_status_route(
    "cancel", "cancel", MeetingStatus.CANCELLED, "Cancel a meeting",
    " Its pending reminders are cancelled; its time is free again.",
)  # fmt: skip
_status_route(
    "complete", "complete", MeetingStatus.COMPLETED, "Mark a meeting completed",
    " Only once it has started (409 `meeting_state_conflict` before).",
)  # fmt: skip
_status_route(
    "no-show", "no_show", MeetingStatus.NO_SHOW, "Mark a meeting a no-show",
    " Only once it has started (409 `meeting_state_conflict` before).",
)  # fmt: skip
