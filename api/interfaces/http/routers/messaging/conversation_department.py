"""Routing a conversation to a department (`POST /api/v1/conversations/{id}/department`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.inbox import InboxConversationOut
from api.usecases.messaging.conversation_department import RouteConversationToDepartment

router = APIRouter(prefix="/conversations", tags=["inbox"])

Writer = Annotated[Principal, require(Permission.INBOX_WRITE)]


class DepartmentRouteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department_id: str | None = Field(
        min_length=1, max_length=64, description="A department's id; null takes it off."
    )


@router.post(
    "/{conversation_id}/department",
    summary="Route a conversation to a department",
    description=(
        "Needs `inbox:write`. `department_id`: one of the tenant's departments (else 404 "
        "`department_not_found`), or null to take the conversation off its department. A "
        "department-limited user may only route to their own departments (403). An "
        "unassigned, unresolved conversation is then auto-assigned among the department's "
        "members (by the inbox's rule). Audited `conversation.routed`; agents get "
        "`conversation.updated`. Another tenant's conversation is 404."
    ),
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def route_to_department(
    conversation_id: str,
    body: Annotated[DepartmentRouteIn, Body()],
    principal: Writer,
    use_case: Annotated[RouteConversationToDepartment, Inject(RouteConversationToDepartment)],
) -> InboxConversationOut:
    conversation = await use_case.execute(principal, conversation_id, body.department_id)
    return InboxConversationOut.of(conversation)
