"""Callback requests: the public web form (`/public/callback-requests`) and the staff's
list and actions (`/callback-requests`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from api.domain.crm.callbacks import CallbackFilter, CallbackStatus
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.middleware.body_limit import BodyLimit, body_limit
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.crm_callbacks import (
    AssignCallbackIn,
    CallbackAcceptedOut,
    CallbackFormIn,
    CallbackPageOut,
    CallbackRequestOut,
    CancelCallbackIn,
    CompleteCallbackIn,
)
from api.usecases.crm.callback_requests import (
    PAGE_MAX,
    AssignCallbackRequest,
    CancelCallbackRequest,
    CompleteCallbackRequest,
    GetCallbackRequest,
    ListCallbackRequests,
)
from api.usecases.crm.submit_callback_request import SubmitCallbackRequest

TAG = "callbacks"
public = APIRouter(prefix="/public/callback-requests", tags=[TAG])
router = APIRouter(prefix="/callback-requests", tags=[TAG])

Reader = Annotated[Principal, require(Permission.CRM_READ)]
Writer = Annotated[Principal, require(Permission.CRM_WRITE)]
_CHANGE = problem_responses(401, 403, 404, 409, 422, 503)


@public.post(
    "",
    status_code=202,
    summary="Ask to be called back (public web form)",
    description=(
        "No authentication: the tenant is named as for any request (`X-Tenant-ID` or the "
        "subdomain; unknown 404, suspended 403, none 400). Any origin may post it (CORS). "
        "Limited per IP address and per tenant (429 with `Retry-After`, `CALLBACK_*`); "
        "the body is at most `CALLBACK_MAX_BODY_BYTES` (413, before it is read). A filled "
        "honeypot (`website`) is answered 202 too, and nothing is kept. The department "
        "(or, without one, the users holding `crm:write`) is told by email."
    ),
    responses=problem_responses(400, 403, 404, 413, 422, 429, 503),
)
@body_limit(BodyLimit.CALLBACK_FORM)
async def submit(
    body: CallbackFormIn,
    use_case: Annotated[SubmitCallbackRequest, Inject(SubmitCallbackRequest)],
) -> CallbackAcceptedOut:
    return CallbackAcceptedOut(id=await use_case.execute(body.to_form()))


@router.get(
    "",
    summary="List callback requests",
    description=(
        "Needs `crm:read`. Newest first, by cursor (a cursor this list did not give is "
        "422), narrowed by `status`, `assignee_id` and `department_id`. A user limited to "
        "departments sees theirs only."
    ),
    responses=problem_responses(401, 403, 422, 503),
)
async def list_requests(
    principal: Reader,
    use_case: Annotated[ListCallbackRequests, Inject(ListCallbackRequests)],
    status: CallbackStatus | None = None,
    assignee_id: Annotated[str | None, Query(max_length=64)] = None,
    department_id: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[
        str | None, Query(min_length=1, max_length=200, description="`next_cursor` of before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX, description="Items per page")] = 20,
) -> CallbackPageOut:
    filter = CallbackFilter(status=status, assignee_id=assignee_id, department_id=department_id)
    page = await use_case.execute(filter, cursor=cursor, limit=limit)
    return CallbackPageOut(
        items=[CallbackRequestOut.of(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/{request_id}",
    summary="Read a callback request",
    description="Needs `crm:read`. Another tenant's or another department's request is 404.",
    responses=problem_responses(401, 403, 404, 503),
)
async def get_request(
    request_id: str,
    principal: Reader,
    use_case: Annotated[GetCallbackRequest, Inject(GetCallbackRequest)],
) -> CallbackRequestOut:
    return CallbackRequestOut.of(await use_case.execute(request_id))


@router.post(
    "/{request_id}/assign",
    summary="Assign a callback request",
    description=(
        "Needs `crm:write`. `new` or `assigned` (reassigning) to `assigned`; the assignee "
        "is an active user holding `crm:read` (else 422 `invalid_assignee`). Completed or "
        "cancelled: 409 `callback_state_conflict`. Audited."
    ),
    responses=_CHANGE,
)
async def assign(
    request_id: str,
    body: AssignCallbackIn,
    principal: Writer,
    use_case: Annotated[AssignCallbackRequest, Inject(AssignCallbackRequest)],
) -> CallbackRequestOut:
    return CallbackRequestOut.of(await use_case.execute(principal, request_id, body.assignee_id))


@router.post(
    "/{request_id}/complete",
    summary="Complete a callback request",
    description=(
        "Needs `crm:write`. After the call: `new` or `assigned` to `completed`, with its "
        "`outcome`. Completed or cancelled: 409 `callback_state_conflict`. Audited."
    ),
    responses=_CHANGE,
)
async def complete(
    request_id: str,
    body: CompleteCallbackIn,
    principal: Writer,
    use_case: Annotated[CompleteCallbackRequest, Inject(CompleteCallbackRequest)],
) -> CallbackRequestOut:
    return CallbackRequestOut.of(await use_case.execute(principal, request_id, body.outcome))


@router.post(
    "/{request_id}/cancel",
    summary="Cancel a callback request",
    description=(
        "Needs `crm:write`. `new` or `assigned` to `cancelled`, with an optional `reason`. "
        "Completed or cancelled: 409 `callback_state_conflict`. Audited."
    ),
    responses=_CHANGE,
)
async def cancel(
    request_id: str,
    principal: Writer,
    use_case: Annotated[CancelCallbackRequest, Inject(CancelCallbackRequest)],
    body: Annotated[CancelCallbackIn | None, Body()] = None,
) -> CallbackRequestOut:
    reason = body.reason if body is not None else None
    return CallbackRequestOut.of(await use_case.execute(principal, request_id, reason))
