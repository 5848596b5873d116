"""Tell the right people that someone asked to be called back (the job after the form)."""

from __future__ import annotations

import logging

from api.domain.crm.callbacks import CallbackRequest, CallbackRequestRepository
from api.domain.departments import DepartmentRepository
from api.domain.email.messages import ContextValue, EmailTemplate
from api.domain.errors import InvalidInput
from api.domain.identity.roles import RoleRepository
from api.domain.identity.users import User, UserRepository
from api.domain.jobs import IdempotencyGuard
from api.domain.permissions import Permission
from api.usecases.crm.callback_policy import CallbackPolicy
from api.usecases.kernel.authority import RoleBook
from api.usecases.kernel.mailer import QueueEmail

log = logging.getLogger(__name__)

HOLD_SECONDS = 300
KEEP_SECONDS = 7 * 24 * 3600


class NotifyCallbackRequest:
    """Email the new request to whoever should call back.

    Rules:
    - recipients: the active members of the request's department; when it names none, or
      its department is gone or has no active member, the active users whose roles grant
      `crm:write` (owners, admins, agents and custom roles alike), so that no request goes
      unseen; at most `notify_max_recipients`, each address once;
    - once per request: a redelivered or repeated job sends nothing more (an idempotency
      claim; a failure gives it back so the retry sends);
    - a recipient whose address the mailer refuses is skipped (logged), the others still
      hear; a queue that is down fails the job (`ServiceUnavailable`), to be retried.
    """

    def __init__(
        self,
        requests: CallbackRequestRepository,
        departments: DepartmentRepository,
        users: UserRepository,
        roles: RoleRepository,
        mail: QueueEmail,
        guard: IdempotencyGuard,
        policy: CallbackPolicy,
    ) -> None:
        self._requests = requests
        self._departments = departments
        self._users = users
        self._roles = roles
        self._mail = mail
        self._guard = guard
        self._policy = policy

    async def execute(self, request_id: str) -> int:
        """How many emails were queued."""
        request = await self._requests.get(request_id)
        if request is None or request.tenant_id is None:
            return 0
        key = f"callback-notify:{request.tenant_id}:{request_id}"
        if not await self._guard.claim(key, HOLD_SECONDS):
            return 0
        try:
            sent = await self._notify(request)
        except BaseException:
            await self._guard.release(key)
            raise
        await self._guard.complete(key, KEEP_SECONDS)
        return sent

    async def _notify(self, request: CallbackRequest) -> int:
        department_name, recipients = await self._department_members(request.department_id)
        if not recipients:
            recipients = await self._crm_writers()
        context: dict[str, ContextValue] = {
            "requester_name": request.name,
            "phone": request.phone,
            "preferred_time": request.preferred_time,
            "message": request.message,
            "department_name": department_name,
            "request_url": f"{self._policy.link_base_url}/callback-requests/{request.id}",
        }
        sent = 0
        for user in recipients[: self._policy.notify_max_recipients]:
            try:
                await self._mail.execute(user.email, EmailTemplate.CALLBACK_REQUESTED, context)
            except InvalidInput:
                log.warning("callback request %s: user %s has no valid address", request.id,
                            user.id)  # fmt: skip
                continue
            sent += 1
        return sent

    async def _department_members(self, department_id: str | None) -> tuple[str | None, list[User]]:
        if department_id is None:
            return None, []
        department = await self._departments.get(department_id)
        if department is None:
            return None, []
        members: list[User] = []
        for member_id in dict.fromkeys(department.member_ids):
            user = await self._users.get(member_id)
            if user is not None and user.is_active:
                members.append(user)
            if len(members) >= self._policy.notify_max_recipients:
                break
        return department.name, members

    async def _crm_writers(self) -> list[User]:
        book = RoleBook(await self._roles.all())
        role_ids = [i for i in book.roles if Permission.CRM_WRITE in book.effective([i])]
        found: dict[str, User] = {}
        for role_id in role_ids:
            page = await self._users.search(
                query=None, is_active=True, role_id=role_id, skip=0,
                limit=self._policy.notify_max_recipients,
            )  # fmt: skip
            for user in page.items:
                found.setdefault(user.email, user)
        return list(found.values())
