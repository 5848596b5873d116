"""The inbox's rules and agents' presence (`/api/v1/inbox/settings`, `/inbox/presence`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.inbox_settings import (
    AgentPresenceOut,
    InboxSettingsIn,
    InboxSettingsOut,
    PresenceIn,
    PresenceListOut,
    PresenceOut,
)
from api.usecases.messaging.inbox_settings import GetInboxSettings, UpdateInboxSettings
from api.usecases.messaging.presence import ListPresence, SetPresence

router = APIRouter(prefix="/inbox", tags=["inbox"])

Reader = Annotated[Principal, require(Permission.INBOX_READ)]
Manager = Annotated[Principal, require(Permission.INBOX_MANAGE)]


@router.get(
    "/settings",
    summary="Read the inbox settings",
    description=(
        "Needs `inbox:read`. Auto-assignment (`off`, `round_robin`, `least_busy`), "
        "`agent_capacity`, `business_hours` (null: always open) and the "
        "`out_of_hours_message`; a tenant that never saved any reads the defaults."
    ),
    responses=problem_responses(401, 403, 503),
)
async def get_settings(
    principal: Reader, use_case: Annotated[GetInboxSettings, Inject(GetInboxSettings)]
) -> InboxSettingsOut:
    return InboxSettingsOut.of(await use_case.execute(principal))


@router.put(
    "/settings",
    summary="Replace the inbox settings",
    description=(
        "Needs `inbox:manage` (owners and admins). A field left out takes its default. "
        "`business_hours`: an IANA `timezone` (else 422 `invalid_timezone`), spans per "
        "weekday in local `HH:MM` (`end` earlier than `start` runs past midnight; a bad "
        "time or an empty span is 422 `invalid_time_span`; overlapping spans 422 "
        "`overlapping_time_spans`), and `holidays` (local dates). Audited."
    ),
    responses=problem_responses(401, 403, 422, 503),
)
async def put_settings(
    body: InboxSettingsIn,
    principal: Manager,
    use_case: Annotated[UpdateInboxSettings, Inject(UpdateInboxSettings)],
) -> InboxSettingsOut:
    return InboxSettingsOut.of(await use_case.execute(principal, body.to_domain()))


@router.put(
    "/presence",
    summary="Set my presence",
    description=(
        "Needs `inbox:read`; the caller's own. `online` and `away` last "
        "`INBOX_PRESENCE_TTL_SECONDS` (see `expires_at`) unless refreshed: send it again "
        "(or keep the inbox socket open); then it reads `offline`. Only online agents are "
        "auto-assigned. Agents are told by a `presence.updated` event."
    ),
    responses=problem_responses(401, 403, 422, 503),
)
async def put_presence(
    body: PresenceIn,
    principal: Reader,
    use_case: Annotated[SetPresence, Inject(SetPresence)],
) -> PresenceOut:
    return PresenceOut.of(await use_case.execute(principal, body.status))


@router.get(
    "/presence",
    summary="List the agents' presence",
    description=(
        "Needs `inbox:read`. Every active agent of the tenant (a user whose roles grant "
        "`inbox:write`), by id, with their presence as it reads now and how many "
        "unresolved conversations they hold."
    ),
    responses=problem_responses(401, 403, 503),
)
async def list_presence(
    principal: Reader, use_case: Annotated[ListPresence, Inject(ListPresence)]
) -> PresenceListOut:
    return PresenceListOut(
        items=[AgentPresenceOut.of(a) for a in await use_case.execute(principal)]
    )
