"""The public web form: a visitor asks to be called back."""

from __future__ import annotations

import logging
import secrets

from pydantic import BaseModel

from api.common.locales import e164
from api.common.request_context import current_client
from api.domain.clock import Clock
from api.domain.crm.callbacks import (
    MESSAGE_MAX,
    NAME_MAX,
    PHONE_MAX,
    PREFERRED_TIME_MAX,
    RESOURCE,
    CallbackContacts,
    CallbackRequest,
    CallbackRequestRepository,
    InvalidCallbackPhone,
    UnknownCallbackDepartment,
    clean_text,
)
from api.domain.departments import DepartmentRepository
from api.domain.errors import InvalidInput, ServiceUnavailable
from api.domain.identity.auth import RateLimiter
from api.domain.jobs import JobQueue
from api.domain.tenancy import current_tenant
from api.domain.tenants.profile import TenantProfileRepository
from api.usecases.crm.callback_policy import NOTIFY_JOB, CallbackPolicy
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.rate_limits import enforce_rate

log = logging.getLogger(__name__)

TOO_MANY = "Too many callback requests; try again later."


class CallbackForm(BaseModel):
    """What the web form posts (lengths are checked by the use case, with the reasons)."""

    name: str
    phone: str
    preferred_time: str | None = None
    message: str | None = None
    department_id: str | None = None
    website: str | None = None  # the honeypot: hidden from people, filled in by bots


class SubmitCallbackRequest:
    """Take a callback request from the public form, in the tenant the request named.

    Rules:
    - at most `rate_per_ip` requests per IP address (whatever the tenant) and
      `rate_per_tenant` per tenant in their windows, else `RateLimited` (429 with
      Retry-After); every attempt counts, the refused and the trapped ones too;
    - a filled honeypot (`website`) looks accepted (an id is returned) but nothing is
      stored, audited or sent: a bot learns nothing;
    - the name (required), preferred time and message are trimmed, bounded, and free of
      control characters (the message may hold line breaks); the phone is a valid number,
      read in the company profile's `default_country` when national, kept in E.164
      (`invalid_phone` 422, after the text fields' `invalid_input`);
    - a `department_id` must be one of the tenant's departments (`unknown_department`
      422, the same for a malformed and an unknown id);
    - the request is linked to the tenant's contact with that number, if there is one
      (none is created: a public form does not write the contact book);
    - stored as `new`, audited with no actor, then a job notifies the department (a queue
      that is down is logged: the request stays stored and listed).
    """

    def __init__(
        self,
        requests: CallbackRequestRepository,
        contacts: CallbackContacts,
        departments: DepartmentRepository,
        profiles: TenantProfileRepository,
        limiter: RateLimiter,
        auditor: Auditor,
        jobs: JobQueue,
        clock: Clock,
        policy: CallbackPolicy,
    ) -> None:
        self._requests = requests
        self._contacts = contacts
        self._departments = departments
        self._profiles = profiles
        self._limiter = limiter
        self._auditor = auditor
        self._jobs = jobs
        self._clock = clock
        self._policy = policy

    async def execute(self, form: CallbackForm) -> str:
        """The new request's id (a made-up one when the honeypot was filled)."""
        tenant_id = current_tenant()
        ip, _ = current_client()
        policy = self._policy
        await enforce_rate(
            self._limiter, f"callback:ip:{ip or 'unknown'}", policy.rate_per_ip,
            policy.ip_window_seconds, TOO_MANY,
        )  # fmt: skip
        await enforce_rate(
            self._limiter, f"callback:tenant:{tenant_id}", policy.rate_per_tenant,
            policy.tenant_window_seconds, TOO_MANY,
        )  # fmt: skip
        if (form.website or "").strip():
            log.info("callback request trapped by the honeypot (nothing stored)")
            return secrets.token_hex(12)
        request = await self._validated(form)
        request.contact_id = await self._contacts.by_phone(request.phone)
        stored = await self._requests.add(request)
        request_id = stored.id or ""
        await self._auditor.record(
            f"{RESOURCE}.created", RESOURCE, request_id, actor_id=None,
            changes={"department_id": stored.department_id, "contact_id": stored.contact_id},
        )  # fmt: skip
        try:
            await self._jobs.enqueue(NOTIFY_JOB, request_id=request_id)
        except ServiceUnavailable:
            log.warning("callback request %s: its notification was not queued", request_id)
        return request_id

    async def _validated(self, form: CallbackForm) -> CallbackRequest:
        name, name_problem = clean_text(form.name, "name", max_length=NAME_MAX, required=True)
        preferred, time_problem = clean_text(
            form.preferred_time, "preferred_time", max_length=PREFERRED_TIME_MAX
        )
        message, message_problem = clean_text(
            form.message, "message", max_length=MESSAGE_MAX, multiline=True
        )
        problems = [p for p in (name_problem, time_problem, message_problem) if p is not None]
        if problems:
            raise InvalidInput("The callback request has invalid fields.", problems)
        phone = await self._phone(form.phone)
        if phone is None:
            raise InvalidCallbackPhone()
        department_id = form.department_id
        if department_id is not None and await self._departments.get(department_id) is None:
            raise UnknownCallbackDepartment()
        now = self._clock.now()
        return CallbackRequest(
            name=name or "", phone=phone or "", preferred_time=preferred, message=message,
            department_id=department_id, created_at=now, updated_at=now,
        )  # fmt: skip

    async def _phone(self, raw: str) -> str | None:
        if not raw.strip() or len(raw) > PHONE_MAX:
            return None
        profile = await self._profiles.get()
        return e164(raw, profile.default_country if profile is not None else None)
