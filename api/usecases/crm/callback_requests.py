"""Staff work on callback requests: list, read, assign, complete, cancel.

Every read and write goes through the department-scoped repository, so a user limited to
some departments neither sees nor changes another department's requests (404). Every
change is a conditional update on the status it starts from: two staff racing on one
request cannot both win, and the loser gets `CallbackStateConflict` (409).
"""

from __future__ import annotations

from api.domain.clock import Clock
from api.domain.crm.callbacks import (
    ALLOWED_FROM,
    OUTCOME_MAX,
    REASON_MAX,
    RESOURCE,
    RESULT_OF,
    CallbackAction,
    CallbackFilter,
    CallbackPage,
    CallbackRequest,
    CallbackRequestRepository,
    CallbackStateConflict,
    InvalidCallbackAssignee,
    clean_text,
)
from api.domain.departments import DepartmentRepository
from api.domain.errors import InvalidInput, NotFound
from api.domain.identity.auth import Principal
from api.domain.identity.roles import RoleRepository, departments_only
from api.domain.identity.users import UserRepository
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import RoleBook

NOT_FOUND = "No callback request with this id."
PAGE_MAX = 100


async def found(requests: CallbackRequestRepository, request_id: str) -> CallbackRequest:
    request = await requests.get(request_id)
    if request is None:
        raise NotFound(NOT_FOUND)
    return request


class ListCallbackRequests:
    """The tenant's callback requests in the caller's departments, newest first, by cursor,
    narrowed by status, assignee and department."""

    def __init__(self, requests: CallbackRequestRepository) -> None:
        self._requests = requests

    async def execute(
        self, filter: CallbackFilter, *, cursor: str | None, limit: int
    ) -> CallbackPage:
        return await self._requests.page(filter, cursor=cursor, limit=max(1, min(limit, PAGE_MAX)))


class GetCallbackRequest:
    """One callback request (404 when absent, another tenant's, or outside the caller's
    departments)."""

    def __init__(self, requests: CallbackRequestRepository) -> None:
        self._requests = requests

    async def execute(self, request_id: str) -> CallbackRequest:
        return await found(self._requests, request_id)


class MoveCallbackRequest:
    """The one way a request changes status: checked against the allowed moves, applied
    only if the status did not change meanwhile, audited with what changed."""

    def __init__(self, requests: CallbackRequestRepository, auditor: Auditor, clock: Clock) -> None:
        self._requests = requests
        self._auditor = auditor
        self._clock = clock

    async def execute(
        self,
        principal: Principal,
        request_id: str,
        action: CallbackAction,
        changes: dict[str, object],
    ) -> CallbackRequest:
        before = await found(self._requests, request_id)
        allowed = ALLOWED_FROM[action]
        if before.status not in allowed:
            raise _conflict(before, action)
        status = RESULT_OF[action]
        changes = {**changes, "status": status, "updated_at": self._clock.now()}
        after = await self._requests.move(request_id, allowed, changes)
        if after is None:  # moved (or gone) since it was read
            raise _conflict(await found(self._requests, request_id), action)
        audited = {k: v for k, v in changes.items() if k != "updated_at"}
        await self._auditor.record(
            f"{RESOURCE}.{_PAST[action]}", RESOURCE, request_id,
            actor_id=principal.actor_id or principal.user_id,
            changes={"from_status": before.status.value,
                     **{k: getattr(v, "value", v) for k, v in audited.items()}},
        )  # fmt: skip
        return after


_PAST = {
    CallbackAction.ASSIGN: "assigned",
    CallbackAction.COMPLETE: "completed",
    CallbackAction.CANCEL: "cancelled",
}


def _conflict(request: CallbackRequest, action: CallbackAction) -> CallbackStateConflict:
    return CallbackStateConflict(
        f"A {request.status.value} callback request cannot be {_PAST[action]}."
    )


class AssignCallbackRequest:
    """Give an open request to a user who can see it: an active user of the tenant holding
    `crm:read` and, when their roles limit them to their departments, a member of the
    request's department (`invalid_assignee` 422 otherwise); reassigning is allowed."""

    def __init__(
        self,
        move: MoveCallbackRequest,
        requests: CallbackRequestRepository,
        users: UserRepository,
        roles: RoleRepository,
        departments: DepartmentRepository,
        clock: Clock,
    ) -> None:
        self._move = move
        self._requests = requests
        self._users = users
        self._roles = roles
        self._departments = departments
        self._clock = clock

    async def execute(
        self, principal: Principal, request_id: str, assignee_id: str
    ) -> CallbackRequest:
        request = await found(self._requests, request_id)
        assignee = await self._users.get(assignee_id)
        if assignee is None or not assignee.is_active:
            raise InvalidCallbackAssignee()
        book = RoleBook(await self._roles.all())
        if Permission.CRM_READ not in book.effective(assignee.role_ids):
            raise InvalidCallbackAssignee()
        if departments_only(assignee.role_ids, book.roles) and (
            request.department_id not in await self._departments.member_of(assignee_id)
        ):
            raise InvalidCallbackAssignee()
        changes: dict[str, object] = {
            "assignee_id": assignee_id,
            "assigned_at": self._clock.now(),
            "assigned_by": principal.user_id,
        }
        return await self._move.execute(principal, request_id, CallbackAction.ASSIGN, changes)


class CompleteCallbackRequest:
    """Close an open request after the call, with its outcome (required, at most
    `OUTCOME_MAX` characters, no control characters but line breaks)."""

    def __init__(self, move: MoveCallbackRequest, clock: Clock) -> None:
        self._move = move
        self._clock = clock

    async def execute(self, principal: Principal, request_id: str, outcome: str) -> CallbackRequest:
        text, problem = clean_text(
            outcome, "outcome", max_length=OUTCOME_MAX, required=True, multiline=True
        )
        if problem is not None:
            raise InvalidInput("The outcome is not valid.", [problem])
        changes: dict[str, object] = {
            "outcome": text,
            "completed_at": self._clock.now(),
            "completed_by": principal.user_id,
        }
        return await self._move.execute(principal, request_id, CallbackAction.COMPLETE, changes)


class CancelCallbackRequest:
    """Drop an open request (a duplicate, a prank), with an optional reason."""

    def __init__(self, move: MoveCallbackRequest, clock: Clock) -> None:
        self._move = move
        self._clock = clock

    async def execute(
        self, principal: Principal, request_id: str, reason: str | None
    ) -> CallbackRequest:
        text, problem = clean_text(reason, "reason", max_length=REASON_MAX, multiline=True)
        if problem is not None:
            raise InvalidInput("The reason is not valid.", [problem])
        changes: dict[str, object] = {
            "cancel_reason": text,
            "cancelled_at": self._clock.now(),
            "cancelled_by": principal.user_id,
        }
        return await self._move.execute(principal, request_id, CallbackAction.CANCEL, changes)
