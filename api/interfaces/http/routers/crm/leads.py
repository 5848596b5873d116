"""Leads (`/api/v1/leads`; `crm:read` to read, `crm:write` to change) and the lead of a
conversation (`POST /api/v1/conversations/{id}/lead`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from api.domain.crm.leads import LeadQuery, LeadStage
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.crm_leads import (
    LeadFromConversationIn,
    LeadIn,
    LeadOut,
    LeadPageOut,
    LeadUpdateIn,
)
from api.usecases.crm.lead_from_conversation import CreateLeadFromConversation
from api.usecases.crm.leads import CreateLead, DeleteLead, GetLead, ListLeads, UpdateLead

router = APIRouter(prefix="/leads", tags=["leads"])
conversation_router = APIRouter(prefix="/conversations", tags=["leads"])

Reader = Annotated[Principal, require(Permission.CRM_READ)]
Writer = Annotated[Principal, require(Permission.CRM_WRITE)]
Filter = Annotated[str | None, Query(min_length=1, max_length=64)]
RULES = (
    " Fields: `title` 1 to 200 characters; `value` a decimal string with `currency` (ISO "
    "4217), both or neither (422 `currency_required`), at most the currency's decimals "
    "(422 `money_too_precise`), not negative (422 `negative_money_value`), digits only "
    "(422 `invalid_money_value`), a known code (422 `unknown_currency`); `source` 1 to 50 "
    "characters (lower-cased); `notes` at most 5,000. References: `contact_id` a live "
    "contact (422 `unknown_contact`), `owner_id` an active user (422 `unknown_owner`), "
    "`department_id` a department (422 `unknown_department`). A user limited to "
    "departments may only put leads in theirs (403). The owner is emailed when the lead "
    "is given to them by someone else."
)
STAGES = (
    " Stages: new -> contacted | qualified | lost; contacted -> qualified | lost; "
    "qualified -> proposal | lost; proposal -> won | lost; lost -> new (reopen); won is "
    "final. Any other move is 409 `lead_stage_conflict`."
)


@router.post(
    "",
    status_code=201,
    summary="Create a lead",
    description="Needs `crm:write`. Source `manual` unless given; stage `new` unless given. "
    "Audited `lead.created`." + RULES,
    responses=problem_responses(401, 403, 422, 503),
)
async def create_lead(
    body: Annotated[LeadIn, Body()],
    principal: Writer,
    use_case: Annotated[CreateLead, Inject(CreateLead)],
) -> LeadOut:
    return LeadOut.of(await use_case.execute(principal, body.fields()))


@router.get(
    "",
    summary="List leads",
    description=(
        "Needs `crm:read`. Newest first, by cursor. Filters: `stage`, `owner_id`, "
        "`department_id`, `contact_id`, `source`, `created_from` (inclusive) and "
        "`created_to` (exclusive); `q` is a piece of the title, any case. A user limited "
        "to departments sees their departments' leads only. A bad cursor is 422."
    ),
    responses=problem_responses(401, 403, 422, 503),
)
async def list_leads(
    principal: Reader,
    use_case: Annotated[ListLeads, Inject(ListLeads)],
    stage: LeadStage | None = None,
    owner_id: Filter = None,
    department_id: Filter = None,
    contact_id: Filter = None,
    source: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Title search")] = None,
    cursor: Annotated[
        str | None, Query(min_length=1, max_length=200, description="`next_cursor` of before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Items per page")] = 20,
) -> LeadPageOut:
    query = LeadQuery(
        stage=stage, owner_id=owner_id, department_id=department_id, contact_id=contact_id,
        source=source.strip().lower() if source else None, created_from=created_from,
        created_to=created_to, text=q,
    )  # fmt: skip
    page = await use_case.execute(principal, query, cursor=cursor, limit=limit)
    return LeadPageOut(items=[LeadOut.of(i) for i in page.items], next_cursor=page.next_cursor)


@router.get(
    "/{lead_id}",
    summary="Read a lead",
    description="Needs `crm:read`. With its history. Another tenant's lead, or one outside "
    "a limited user's departments, is 404.",
    responses=problem_responses(401, 403, 404, 503),
)
async def get_lead(
    lead_id: str,
    principal: Reader,
    use_case: Annotated[GetLead, Inject(GetLead)],
) -> LeadOut:
    return LeadOut.of(await use_case.execute(principal, lead_id))


@router.patch(
    "/{lead_id}",
    summary="Change a lead",
    description="Needs `crm:write`. Only the fields sent change (null clears `value` with "
    "`currency`, `owner_id`, `department_id`, `notes`); each change is added to the "
    "history. Audited `lead.updated`." + STAGES + RULES,
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def update_lead(
    lead_id: str,
    body: Annotated[LeadUpdateIn, Body()],
    principal: Writer,
    use_case: Annotated[UpdateLead, Inject(UpdateLead)],
) -> LeadOut:
    return LeadOut.of(await use_case.execute(principal, lead_id, body.fields()))


@router.delete(
    "/{lead_id}",
    status_code=204,
    summary="Delete a lead",
    description="Needs `crm:write`. Audited `lead.deleted`.",
    responses=problem_responses(401, 403, 404, 503),
)
async def delete_lead(
    lead_id: str,
    principal: Writer,
    use_case: Annotated[DeleteLead, Inject(DeleteLead)],
) -> Response:
    await use_case.execute(principal, lead_id)
    return Response(status_code=204)


@conversation_router.post(
    "/{conversation_id}/lead",
    status_code=201,
    summary="Create a lead from a conversation",
    description=(
        "Needs `crm:write`. The lead takes the conversation's contact and department "
        '(unless the body names one), source `conversation` and the title "Conversation '
        'with <name>" unless given. While the conversation has an open lead (not won or '
        "lost), another is 409 `lead_exists` with `lead_id`. Another tenant's "
        "conversation is 404." + RULES
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def create_lead_from_conversation(
    conversation_id: str,
    principal: Writer,
    use_case: Annotated[CreateLeadFromConversation, Inject(CreateLeadFromConversation)],
    body: Annotated[LeadFromConversationIn | None, Body()] = None,
) -> LeadOut:
    fields = (body or LeadFromConversationIn()).fields()
    return LeadOut.of(await use_case.execute(principal, conversation_id, fields))
