"""The tenant's message templates (`/api/v1/templates`): list and read, sync from the
provider (a job), create and submit for approval, delete, deactivate and activate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from api.domain.identity.auth import Principal
from api.domain.messaging.templates import TemplateCategory
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.templates import (
    TemplateIn,
    TemplateOut,
    TemplatePageOut,
    TemplateSyncIn,
    TemplateSyncOut,
)
from api.usecases.messaging.create_template import CreateTemplate
from api.usecases.messaging.delete_template import DeleteTemplate
from api.usecases.messaging.get_template import GetTemplate
from api.usecases.messaging.list_templates import ListTemplates
from api.usecases.messaging.request_template_sync import RequestTemplateSync
from api.usecases.messaging.template_activation import ChangeTemplateActivation
from api.usecases.messaging.template_rules import MAX_TEMPLATE_PAGE

router = APIRouter(prefix="/templates", tags=["templates"])

Reader = Annotated[Principal, require(Permission.TEMPLATES_READ)]
Manager = Annotated[Principal, require(Permission.TEMPLATES_MANAGE)]
VARIABLES_NOTE = (
    " `variables` lists what a sender fills (the placeholders of the header, body and URL "
    "buttons, and a media header's link), each with a stable `key` (`body.1`, "
    "`body.first_name`, `button.1.1`, `header.image`) that campaigns map values to, and "
    "Meta's example. `active` is Parley's own switch."
)
ACTIVATION_NOTE = (
    " Needs `templates:manage`. Parley's own flag: Meta is not told and the template "
    "stays approved there; a sync never changes it. Repeating it changes nothing. Another "
    "tenant's template is 404."
)


@router.get(
    "",
    summary="List message templates",
    description=(
        "Needs `templates:read`. Newest first, by cursor; `channel_id`, `status` (Meta's, "
        "any case), `category`, `q` (part of the name) and `active` narrow the list. A "
        "cursor this list did not give is 422." + VARIABLES_NOTE
    ),
    responses=problem_responses(401, 403, 422, 503),
)
async def list_templates(
    principal: Reader,
    use_case: Annotated[ListTemplates, Inject(ListTemplates)],
    channel_id: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Only this channel")
    ] = None,
    status: Annotated[
        str | None,
        Query(min_length=1, max_length=32, description="Only this status, e.g. APPROVED"),
    ] = None,
    category: Annotated[TemplateCategory | None, Query(description="Only this category")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="A part of the name")
    ] = None,
    active: Annotated[
        bool | None, Query(description="Only active (true) or only deactivated (false)")
    ] = None,
    cursor: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="`next_cursor` of the previous page."),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_TEMPLATE_PAGE, description="Items per page (at most 100).")
    ] = 20,
) -> TemplatePageOut:
    page = await use_case.execute(
        principal,
        channel_id=channel_id,
        status=status,
        category=category.value if category else None,
        q=q,
        cursor=cursor,
        limit=limit,
        active=active,
    )
    return TemplatePageOut.of(page)


@router.post(
    "/sync",
    status_code=202,
    summary="Sync a channel's templates from Meta",
    description=(
        "Needs `templates:manage`. Queues a job that reads every page of the channel's "
        "WhatsApp Business Account templates from the Graph API and stores what changed; "
        "a template Meta no longer lists stays with status `DELETED`. Another tenant's "
        "channel is 404, a disconnected one 409, a broker that is down 503."
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def sync_templates(
    body: Annotated[TemplateSyncIn, Body()],
    principal: Manager,
    use_case: Annotated[RequestTemplateSync, Inject(RequestTemplateSync)],
) -> TemplateSyncOut:
    return TemplateSyncOut.of(await use_case.execute(principal, body.channel_id))


@router.post(
    "",
    status_code=201,
    summary="Create a template and submit it to Meta",
    description=(
        "Needs `templates:manage`. Checked against Meta's rules first (name of lowercase "
        "letters, digits and underscores; category; one BODY with text; lengths; "
        "placeholders `{{1}}, {{2}}...` in order or all named, each with an example): a "
        "break is 422 `invalid_template` with field `errors` and nothing is sent. Then "
        "submitted to Meta; a refusal is 422 `template_rejected` with Meta's message. "
        "Stored with Meta's id and status (usually PENDING; status webhooks keep it "
        "current). Another tenant's channel is 404; a disconnected channel, or a name and "
        "language the channel already has, 409." + VARIABLES_NOTE
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def create_template(
    body: Annotated[TemplateIn, Body()],
    principal: Manager,
    use_case: Annotated[CreateTemplate, Inject(CreateTemplate)],
) -> TemplateOut:
    return TemplateOut.of(await use_case.execute(principal, **body.model_dump()))


@router.get(
    "/{template_id}",
    summary="Read a template",
    description="Needs `templates:read`. Another tenant's template is 404." + VARIABLES_NOTE,
    responses=problem_responses(401, 403, 404, 503),
)
async def get_template(
    template_id: str,
    principal: Reader,
    use_case: Annotated[GetTemplate, Inject(GetTemplate)],
) -> TemplateOut:
    return TemplateOut.of(await use_case.execute(principal, template_id))


@router.delete(
    "/{template_id}",
    status_code=204,
    summary="Delete a template (at Meta, then here)",
    description=(
        "Needs `templates:manage`. Deleted at Meta first by name and id (this language "
        "only); a refusal is 422 `template_rejected` with Meta's message and nothing is "
        "removed. A template Meta no longer has (`DELETED`) or whose channel is "
        "disconnected is only removed here. Another tenant's template is 404."
    ),
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def delete_template(
    template_id: str,
    principal: Manager,
    use_case: Annotated[DeleteTemplate, Inject(DeleteTemplate)],
) -> Response:
    await use_case.execute(principal, template_id)
    return Response(status_code=204)


@router.post(
    "/{template_id}/deactivate",
    summary="Deactivate a template",
    description=(
        "No more sends with it: `POST /messages` with this template (its channel, name and "
        "language) is 422 `template_inactive`, and campaigns refuse it. Audited as "
        "`template.deactivated`." + ACTIVATION_NOTE
    ),
    responses=problem_responses(401, 403, 404, 503),
)
async def deactivate_template(
    template_id: str,
    principal: Manager,
    use_case: Annotated[ChangeTemplateActivation, Inject(ChangeTemplateActivation)],
) -> TemplateOut:
    return TemplateOut.of(await use_case.execute(principal, template_id, active=False))


@router.post(
    "/{template_id}/activate",
    summary="Activate a template again",
    description="Sends may use it again. Audited as `template.activated`." + ACTIVATION_NOTE,
    responses=problem_responses(401, 403, 404, 503),
)
async def activate_template(
    template_id: str,
    principal: Manager,
    use_case: Annotated[ChangeTemplateActivation, Inject(ChangeTemplateActivation)],
) -> TemplateOut:
    return TemplateOut.of(await use_case.execute(principal, template_id, active=True))
