"""Campaigns (`/api/v1/campaigns`): broadcast WhatsApp template campaigns and Telegram
plain-message campaigns, their life (schedule, start, pause, resume, cancel), runs,
recipient rows and stats."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from api.domain.identity.auth import Principal
from api.domain.messaging.campaigns import CampaignStatus, RecipientStatus
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.campaigns import (
    CampaignIn,
    CampaignOut,
    CampaignPageOut,
    CampaignPatchIn,
    RecipientPageOut,
    RunDetailOut,
    RunPageOut,
    ScheduleIn,
    StatsOut,
)
from api.usecases.messaging.campaign_actions import (
    CancelCampaign,
    PauseCampaign,
    ResumeCampaign,
    ScheduleCampaign,
    StartCampaign,
)
from api.usecases.messaging.campaign_runs import (
    GetCampaignRun,
    GetCampaignStats,
    ListCampaignRecipients,
    ListCampaignRuns,
)
from api.usecases.messaging.inbox_reads import MAX_PAGE
from api.usecases.messaging.manage_campaigns import (
    CreateCampaign,
    DeleteCampaign,
    GetCampaign,
    ListCampaigns,
    UpdateCampaign,
)

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

Reader = Annotated[Principal, require(Permission.CAMPAIGNS_READ)]
Manager = Annotated[Principal, require(Permission.CAMPAIGNS_MANAGE)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page (at most 100).")]
Cursor = Annotated[
    str | None, Query(min_length=1, max_length=200, description="`next_cursor` of before")
]
RULES = (
    " Checked on save (422): the channel is the tenant's (`unknown_channel`); exactly one "
    "of `template` and `message` (`invalid_campaign_content`). A WhatsApp campaign sends a "
    "`template` (a plain message is `template_required`: outside the 24-hour window "
    "WhatsApp takes templates only), stored for that channel, name and language and "
    "`APPROVED` (and not switched off) (`template_not_usable`). A Telegram campaign sends a "
    "plain `message` `{text, file_id?, button?}` (a template is `templates_not_supported`): "
    "a text of at most 4096 characters (optionally with one URL `button` `{text, url}`), "
    "or a stored file (`unknown_file` when it is not the tenant's) with the text as its "
    "caption (at most 1024), to the contacts with a chat on "
    "the bot (the others are skipped `not_on_channel`). Messenger and Instagram take no "
    "campaigns (`campaigns_not_supported`: Meta allows no promotional message outside the "
    "24-hour window). The variables fill every template variable once, by `key` "
    "(`body.1`, `header.1`, `button.0.1`, `body.first_name`), or every placeholder "
    "`{{1}}`, `{{2}}`... of the message (numbered from 1 without gaps, keys `1`, `2`...), "
    "or, with no keys, in order (`template_variables_unmapped`); a `field` variable names `name`, "
    "`phone`, `email` or `language`; the audience names segments, tags, contacts or `all` "
    "(`invalid_audience`), its segments exist (`unknown_segment`); a schedule is `now`, "
    "`at` (a time to come) or `recurring` (a cron read in `timezone`, the company "
    "profile's by default, at most hourly) (`invalid_schedule`); `messages_per_second` "
    "1-1000 (80). Audited."
)
STATE = " An action the campaign's status does not allow is 409 `campaign_state_conflict`."


@router.get(
    "",
    summary="List campaigns",
    description="Needs `campaigns:read`. Newest first, by cursor; `status` narrows the list.",
    responses=problem_responses(401, 403, 422, 503),
)
async def list_campaigns(
    principal: Reader,
    use_case: Annotated[ListCampaigns, Inject(ListCampaigns)],
    status: Annotated[CampaignStatus | None, Query(description="Only in this status")] = None,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> CampaignPageOut:
    page = await use_case.execute(principal, status=status, cursor=cursor, limit=limit)
    return CampaignPageOut.of(page)


@router.post(
    "",
    status_code=201,
    summary="Create a campaign",
    description=(
        "Needs `campaigns:manage`. The campaign is a `draft` owned by the caller (who gets "
        "the results email of each run); schedule or start it next." + RULES
    ),
    responses=problem_responses(401, 403, 422, 503),
)
async def create_campaign(
    body: Annotated[CampaignIn, Body()],
    principal: Manager,
    use_case: Annotated[CreateCampaign, Inject(CreateCampaign)],
) -> CampaignOut:
    return CampaignOut.of(await use_case.execute(principal, body))


@router.get(
    "/{campaign_id}",
    summary="Read a campaign",
    description="Needs `campaigns:read`. Another tenant's campaign is 404.",
    responses=problem_responses(401, 403, 404, 503),
)
async def get_campaign(
    campaign_id: str,
    principal: Reader,
    use_case: Annotated[GetCampaign, Inject(GetCampaign)],
) -> CampaignOut:
    return CampaignOut.of(await use_case.execute(principal, campaign_id))


@router.patch(
    "/{campaign_id}",
    summary="Change a campaign",
    description=(
        "Needs `campaigns:manage`. Only while `draft` or `scheduled` (else 409 "
        "`campaign_state_conflict`); only the fields sent change; a scheduled campaign's "
        "new schedule moves its next run." + RULES
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def update_campaign(
    campaign_id: str,
    body: Annotated[CampaignPatchIn, Body()],
    principal: Manager,
    use_case: Annotated[UpdateCampaign, Inject(UpdateCampaign)],
) -> CampaignOut:
    return CampaignOut.of(await use_case.execute(principal, campaign_id, body))


@router.delete(
    "/{campaign_id}",
    status_code=204,
    summary="Delete a campaign",
    description=(
        "Needs `campaigns:manage`. Not while `running` or `paused` (cancel it first: 409 "
        "`campaign_state_conflict`). Audited as `campaign.deleted`."
    ),
    responses=problem_responses(401, 403, 404, 409, 503),
)
async def delete_campaign(
    campaign_id: str,
    principal: Manager,
    use_case: Annotated[DeleteCampaign, Inject(DeleteCampaign)],
) -> Response:
    await use_case.execute(principal, campaign_id)
    return Response(status_code=204)


@router.post(
    "/{campaign_id}/schedule",
    summary="Schedule a campaign",
    description=(
        "Needs `campaigns:manage`. `draft` -> `scheduled`, with the schedule sent or the "
        "campaign's own: `at` (a time to come) or `recurring` (cron); `now` or none is 422 "
        "`invalid_schedule` (start it instead). `next_run_at` is its first run; beat "
        "launches it then (every `CAMPAIGN_DISPATCH_INTERVAL_SECONDS`), one run per window." + STATE
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def schedule_campaign(
    campaign_id: str,
    principal: Manager,
    use_case: Annotated[ScheduleCampaign, Inject(ScheduleCampaign)],
    body: Annotated[ScheduleIn | None, Body()] = None,
) -> CampaignOut:
    request = body or ScheduleIn()
    return CampaignOut.of(await use_case.execute(principal, campaign_id, request))


@router.post(
    "/{campaign_id}/start",
    summary="Start a campaign now",
    description=(
        "Needs `campaigns:manage`. `draft` or `scheduled` -> `running`: a run now; a job "
        "snapshots its audience (opted-out and deleted contacts skipped) and the send "
        "engine sends it. A recurring campaign goes back to its schedule after the run." + STATE
    ),
    responses=problem_responses(401, 403, 404, 409, 503),
)
async def start_campaign(
    campaign_id: str,
    principal: Manager,
    use_case: Annotated[StartCampaign, Inject(StartCampaign)],
) -> CampaignOut:
    return CampaignOut.of(await use_case.execute(principal, campaign_id))


@router.post(
    "/{campaign_id}/pause",
    summary="Pause a campaign",
    description=(
        "Needs `campaigns:manage`. `running` -> `paused`: its run stops sending (messages "
        "already on their way finish)." + STATE
    ),
    responses=problem_responses(401, 403, 404, 409, 503),
)
async def pause_campaign(
    campaign_id: str,
    principal: Manager,
    use_case: Annotated[PauseCampaign, Inject(PauseCampaign)],
) -> CampaignOut:
    return CampaignOut.of(await use_case.execute(principal, campaign_id))


@router.post(
    "/{campaign_id}/resume",
    summary="Resume a campaign",
    description="Needs `campaigns:manage`. `paused` -> `running`: its run sends again." + STATE,
    responses=problem_responses(401, 403, 404, 409, 503),
)
async def resume_campaign(
    campaign_id: str,
    principal: Manager,
    use_case: Annotated[ResumeCampaign, Inject(ResumeCampaign)],
) -> CampaignOut:
    return CampaignOut.of(await use_case.execute(principal, campaign_id))


@router.post(
    "/{campaign_id}/cancel",
    summary="Cancel a campaign",
    description=(
        "Needs `campaigns:manage`. `draft`, `scheduled`, `running` or `paused` -> "
        "`cancelled`: no further run; the current run ends `cancelled` and its recipients "
        "not yet sent are `skipped` (reason `cancelled`)." + STATE
    ),
    responses=problem_responses(401, 403, 404, 409, 503),
)
async def cancel_campaign(
    campaign_id: str,
    principal: Manager,
    use_case: Annotated[CancelCampaign, Inject(CancelCampaign)],
) -> CampaignOut:
    return CampaignOut.of(await use_case.execute(principal, campaign_id))


@router.get(
    "/{campaign_id}/runs",
    summary="List a campaign's runs",
    description="Needs `campaigns:read`. Newest window first, by cursor.",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def list_runs(
    campaign_id: str,
    principal: Reader,
    use_case: Annotated[ListCampaignRuns, Inject(ListCampaignRuns)],
    cursor: Cursor = None,
    limit: Limit = 20,
) -> RunPageOut:
    return RunPageOut.of(await use_case.execute(principal, campaign_id, cursor=cursor,
                                                limit=limit))  # fmt: skip


@router.get(
    "/{campaign_id}/runs/{run_id}",
    summary="Read a run and its stats",
    description=(
        "Needs `campaigns:read`. The run (its window, status, recipients, opted-out skips) "
        "and its stats counted from its recipient rows now. A run of another campaign or "
        "tenant is 404."
    ),
    responses=problem_responses(401, 403, 404, 503),
)
async def get_run(
    campaign_id: str,
    run_id: str,
    principal: Reader,
    use_case: Annotated[GetCampaignRun, Inject(GetCampaignRun)],
) -> RunDetailOut:
    return RunDetailOut.of_view(await use_case.execute(principal, campaign_id, run_id))


@router.get(
    "/{campaign_id}/stats",
    summary="A campaign's stats",
    description=(
        "Needs `campaigns:read`. Over all its runs: recipients, queued (pending or being "
        "sent), sent, delivered, read, failed, skipped (and by reason) and opted-out skips, "
        "failures by error code, and the delivery and read rates (over the rows at least "
        "sent). Telegram tells no delivery or read: its rows stay `sent`."
    ),
    responses=problem_responses(401, 403, 404, 503),
)
async def campaign_stats(
    campaign_id: str,
    principal: Reader,
    use_case: Annotated[GetCampaignStats, Inject(GetCampaignStats)],
) -> StatsOut:
    return StatsOut.of(await use_case.execute(principal, campaign_id))


@router.get(
    "/{campaign_id}/recipients",
    summary="List a campaign's recipients",
    description=(
        "Needs `campaigns:read`. The recipient rows of all its runs (or of `run_id`), in "
        "snapshot order, by cursor; `status` narrows the list. A cursor this list did not "
        "give is 422."
    ),
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def list_recipients(
    campaign_id: str,
    principal: Reader,
    use_case: Annotated[ListCampaignRecipients, Inject(ListCampaignRecipients)],
    status: Annotated[RecipientStatus | None, Query(description="Only in this status")] = None,
    run_id: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Only of this run")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> RecipientPageOut:
    page = await use_case.execute(principal, campaign_id, run_id=run_id, status=status,
                                  cursor=cursor, limit=limit)  # fmt: skip
    return RecipientPageOut.of(page)
