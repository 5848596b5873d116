"""The inbox's teams (`/api/v1/teams`): groups of the tenant's users that conversations
are transferred to. Reading needs `inbox:read`; changes need `teams:manage`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.paging import PagingQuery
from api.interfaces.http.schemas.teams import TeamIn, TeamOut, TeamPageOut, TeamUpdateIn
from api.usecases.messaging.teams import CreateTeam, DeleteTeam, GetTeam, ListTeams, UpdateTeam

router = APIRouter(prefix="/teams", tags=["teams"])

Reader = Annotated[Principal, require(Permission.INBOX_READ)]
Manager = Annotated[Principal, require(Permission.TEAMS_MANAGE)]
RULES = (
    " Names (1 to 100 characters) are unique in the tenant regardless of case (409 "
    "`team_name_taken`); members must be users of the tenant (422 `unknown_members`), at "
    "most 200."
)


@router.post(
    "",
    status_code=201,
    summary="Create a team",
    description="Needs `teams:manage`. Audited `team.created`." + RULES,
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def create_team(
    body: Annotated[TeamIn, Body()],
    principal: Manager,
    use_case: Annotated[CreateTeam, Inject(CreateTeam)],
) -> TeamOut:
    return TeamOut.of(await use_case.execute(principal, body.name, body.member_ids))


@router.get(
    "",
    summary="List teams",
    description="Needs `inbox:read`. By name.",
    responses=problem_responses(401, 403, 422, 503),
)
async def list_teams(
    principal: Reader,
    paging: PagingQuery,
    use_case: Annotated[ListTeams, Inject(ListTeams)],
) -> TeamPageOut:
    found = await use_case.execute(principal, page=paging.page, page_size=paging.page_size)
    return TeamPageOut.of(found, paging.page, paging.page_size)


@router.get(
    "/{team_id}",
    summary="Read a team",
    description="Needs `inbox:read`. Another tenant's team is 404.",
    responses=problem_responses(401, 403, 404, 503),
)
async def get_team(
    team_id: str,
    principal: Reader,
    use_case: Annotated[GetTeam, Inject(GetTeam)],
) -> TeamOut:
    return TeamOut.of(await use_case.execute(principal, team_id))


@router.patch(
    "/{team_id}",
    summary="Change a team",
    description=(
        "Needs `teams:manage`. Rename it and/or replace its members (`member_ids`). "
        "Audited `team.updated`." + RULES
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def update_team(
    team_id: str,
    body: Annotated[TeamUpdateIn, Body()],
    principal: Manager,
    use_case: Annotated[UpdateTeam, Inject(UpdateTeam)],
) -> TeamOut:
    return TeamOut.of(
        await use_case.execute(principal, team_id, name=body.name, member_ids=body.member_ids)
    )


@router.delete(
    "/{team_id}",
    status_code=204,
    summary="Delete a team",
    description=(
        "Needs `teams:manage`. Its conversations lose the team (their assignee stays). "
        "Audited `team.deleted`."
    ),
    responses=problem_responses(401, 403, 404, 503),
)
async def delete_team(
    team_id: str,
    principal: Manager,
    use_case: Annotated[DeleteTeam, Inject(DeleteTeam)],
) -> Response:
    await use_case.execute(principal, team_id)
    return Response(status_code=204)
