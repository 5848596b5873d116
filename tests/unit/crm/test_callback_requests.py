"""Callback requests' rules with fakes of their ports: the public form (rate limits,
honeypot, text and phone checks, department, contact link, audit, the job) and the staff
moves (allowed transitions, assignee, outcome), and whom the notification reaches."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from api.common.request_context import client_ip_var
from api.domain.crm.callbacks import (
    ALLOWED_FROM,
    CallbackAction,
    CallbackFilter,
    CallbackRequest,
    CallbackStateConflict,
    CallbackStatus,
    clean_text,
)
from api.domain.email.messages import EmailTemplate
from api.domain.errors import InvalidInput, NotFound, RateLimited
from api.domain.identity.auth import Principal
from api.domain.identity.roles import Role
from api.domain.identity.users import User
from api.domain.permissions import Permission
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.crm.callback_policy import NOTIFY_JOB, CallbackPolicy
from api.usecases.crm.callback_requests import (
    AssignCallbackRequest,
    CancelCallbackRequest,
    CompleteCallbackRequest,
    ListCallbackRequests,
    MoveCallbackRequest,
)
from api.usecases.crm.notify_callback_request import NotifyCallbackRequest
from api.usecases.crm.submit_callback_request import CallbackForm, SubmitCallbackRequest
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.mailer import QueueEmail
from tests.fakes.audit import FakeAuditLog
from tests.fakes.clock import FakeUtcClock
from tests.fakes.crm_callbacks import (
    EPOCH,
    FakeCallbackContacts,
    FakeCallbackRequests,
    FakeDepartments,
    FakeGuard,
    FakeProfiles,
    department,
)
from tests.fakes.email import FakeOutbox
from tests.fakes.identity import FakeLimiter, FakeRoles, FakeUsers
from tests.fakes.jobs import FakeJobs

POLICY = CallbackPolicy(rate_per_ip=3, ip_window_seconds=600, rate_per_tenant=5,
                        tenant_window_seconds=3600, notify_max_recipients=10,
                        link_base_url="https://parley.example.com/api/v1")  # fmt: skip


@pytest.fixture(autouse=True)
def _in_tenant() -> Iterator[None]:
    token = client_ip_var.set("203.0.113.7")
    try:
        with tenant_context(TenantId("t1")):
            yield
    finally:
        client_ip_var.reset(token)


class Form:
    """A submit use case with its fakes."""

    def __init__(self, *, country: str | None = "DE", down: bool = False) -> None:
        self.requests = FakeCallbackRequests()
        self.contacts = FakeCallbackContacts(**{"+4915112345678": "c1"})
        self.departments = FakeDepartments(department("d1", "Sales"))
        self.limiter = FakeLimiter()
        self.audit = FakeAuditLog()
        self.jobs = FakeJobs(down=down)
        self.clock = FakeUtcClock()
        self.submit = SubmitCallbackRequest(
            self.requests, self.contacts, self.departments, FakeProfiles(country),
            self.limiter, Auditor(self.audit), self.jobs, self.clock, POLICY,
        )  # fmt: skip


def form(**fields: str | None) -> CallbackForm:
    values: dict[str, str | None] = {"name": " Jane Doe ", "phone": "0151 1234 5678"}
    return CallbackForm(**{**values, **fields})


async def test_a_request_is_stored_new_in_e164_linked_audited_and_queued() -> None:
    f = Form()
    request_id = await f.submit.execute(
        form(preferred_time=" after 5pm ", message="Call me\nabout my order",
             department_id="d1")
    )  # fmt: skip
    stored = f.requests.rows[request_id]
    assert stored.name == "Jane Doe" and stored.phone == "+4915112345678"
    assert stored.preferred_time == "after 5pm" and stored.message == "Call me\nabout my order"
    assert stored.status is CallbackStatus.NEW and stored.department_id == "d1"
    assert stored.contact_id == "c1"  # the tenant's contact with this number
    assert stored.created_at == stored.updated_at == f.clock.at
    assert f.audit.actions() == ["callback_request.created"]
    assert f.audit.entries[0].actor_id is None and f.audit.entries[0].resource_id == request_id
    assert f.jobs.queued == [(NOTIFY_JOB, {"request_id": request_id})]


async def test_an_unknown_number_links_no_contact_and_creates_none() -> None:
    f = Form()
    request_id = await f.submit.execute(form(phone="+44 20 7946 0958"))
    assert f.requests.rows[request_id].contact_id is None
    assert f.requests.rows[request_id].phone == "+442079460958"
    assert f.contacts.asked == ["+442079460958"]


async def test_the_honeypot_answers_an_id_and_keeps_nothing() -> None:
    f = Form()
    fake_id = await f.submit.execute(form(website="http://spam.example"))
    assert len(fake_id) == 24 and fake_id not in f.requests.rows
    assert f.requests.rows == {} and f.audit.entries == [] and f.jobs.queued == []
    # Even an invalid form with the honeypot filled looks accepted: bots learn nothing.
    assert await f.submit.execute(form(phone="nope", website="x"))
    assert f.requests.rows == {}


async def test_rate_limits_per_ip_then_per_tenant_count_every_attempt() -> None:
    f = Form()
    for _ in range(3):
        await f.submit.execute(form(website="bot"))  # trapped ones count too
    with pytest.raises(RateLimited) as refused:
        await f.submit.execute(form())
    assert refused.value.retry_after == 600
    assert f.requests.rows == {}
    keys = {key: (limit, window) for key, limit, window in f.limiter.hits}
    assert keys == {"callback:ip:203.0.113.7": (3, 600), "callback:tenant:t1": (5, 3600)}
    # Other addresses, same tenant: the tenant's limit (5 in all) stops the sixth.
    for n in range(2):
        client_ip_var.set(f"198.51.100.{n}")
        await f.submit.execute(form())
    client_ip_var.set("198.51.100.9")
    with pytest.raises(RateLimited) as tenant_refused:
        await f.submit.execute(form())
    assert tenant_refused.value.retry_after == 3600
    assert len(f.requests.rows) == 2


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "Jane\x00Doe"}, "name"),
        ({"name": "Jane\nDoe"}, "name"),  # single-line fields take no line break
        ({"name": "Jane\u202eeoD"}, "name"),  # a bidi override
        ({"preferred_time": "soon\x1b[31m"}, "preferred_time"),
        ({"message": "y" * 2001}, "message"),
        ({"message": "hello\x07"}, "message"),
    ],
)
async def test_text_fields_are_bounded_and_free_of_control_characters(
    fields: dict[str, str], where: str
) -> None:
    f = Form()
    with pytest.raises(InvalidInput) as refused:
        await f.submit.execute(form(**fields))
    assert refused.value.code == "invalid_input"
    assert [p.loc for p in refused.value.problems] == [("body", where)]
    assert f.requests.rows == {}


def test_joiners_and_line_breaks_where_allowed() -> None:
    assert clean_text("Mehr\u200cdad", "name", max_length=20) == ("Mehr\u200cdad", None)
    assert clean_text("a\r\n\tb", "m", max_length=20, multiline=True) == ("a\r\n\tb", None)
    assert clean_text(None, "m", max_length=5) == (None, None)
    assert clean_text("  ", "m", max_length=5, required=True)[1] is not None


@pytest.mark.parametrize("phone", ["12", "not a phone", "+1 555", "", "0151 1234 5678" * 4])
async def test_a_bad_phone_is_invalid_phone(phone: str) -> None:
    f = Form()
    with pytest.raises(InvalidInput) as refused:
        await f.submit.execute(form(phone=phone))
    assert refused.value.code == "invalid_phone"
    assert f.requests.rows == {}


async def test_a_national_number_needs_the_default_country() -> None:
    f = Form(country=None)
    with pytest.raises(InvalidInput) as refused:
        await f.submit.execute(form(phone="0151 1234 5678"))
    assert refused.value.code == "invalid_phone"
    assert await f.submit.execute(form(phone="0049 151 1234 5678"))


@pytest.mark.parametrize("department_id", ["d9", "not-an-id", ""])
async def test_an_unknown_department_is_422_however_it_is_spelled(department_id: str) -> None:
    f = Form()
    with pytest.raises(InvalidInput) as refused:
        await f.submit.execute(form(department_id=department_id))
    assert refused.value.code == "unknown_department"
    assert f.requests.rows == {}


async def test_a_queue_that_is_down_still_keeps_the_request() -> None:
    f = Form(down=True)
    request_id = await f.submit.execute(form())
    assert request_id in f.requests.rows and f.jobs.queued == []


# Staff moves


def user(id: str, *role_ids: str, active: bool = True, email: str | None = None) -> User:
    return User(
        id=id, tenant_id="t1", email=email or f"{id}@acme.example.com", full_name=id.title(),
        is_active=active, role_ids=list(role_ids), created_at=EPOCH, updated_at=EPOCH,
    )  # fmt: skip


def role(id: str, *permissions: str, inherits: tuple[str, ...] = ()) -> Role:
    return Role(id=id, tenant_id="t1", name=id, permissions=list(permissions),
                inherits=list(inherits), created_at=EPOCH, updated_at=EPOCH)  # fmt: skip


ROLES = [
    role("reader", Permission.CRM_READ),
    role("writer", Permission.CRM_WRITE, inherits=("reader",)),
    role("plain", Permission.FILES_READ),
    role("desk", Permission.CRM_READ, Permission.CRM_WRITE).model_copy(
        update={"departments_only": True}
    ),
]
STAFF = Principal(
    user_id="ann", tenant_id="t1", session_id="s", token_id="t",
    permissions=frozenset({Permission.CRM_READ, Permission.CRM_WRITE}),
    issued_at=EPOCH, expires_at=EPOCH + timedelta(hours=1),
)  # fmt: skip


class Staff:
    def __init__(self) -> None:
        self.requests = FakeCallbackRequests()
        self.audit = FakeAuditLog()
        self.clock = FakeUtcClock()
        self.users = FakeUsers(
            user("ann", "writer"), user("bob", "reader"), user("cid", "plain"),
            user("dan", "reader", active=False), user("sue", "desk"), user("sid", "desk"),
        )  # fmt: skip
        move = MoveCallbackRequest(self.requests, Auditor(self.audit), self.clock)
        self.departments = FakeDepartments(department("d1", "Sales", "sue"))
        self.assign = AssignCallbackRequest(
            move, self.requests, self.users, FakeRoles(ROLES), self.departments, self.clock
        )
        self.complete = CompleteCallbackRequest(move, self.clock)
        self.cancel = CancelCallbackRequest(move, self.clock)

    async def new(self, **changes: object) -> str:
        f = Form()
        f.requests = self.requests
        f.submit._requests = self.requests
        request_id = await f.submit.execute(form())
        if changes:
            self.requests.rows[request_id] = self.requests.rows[request_id].model_copy(
                update=changes
            )
        return request_id


def test_only_open_requests_move() -> None:
    for action in CallbackAction:
        assert ALLOWED_FROM[action] == {CallbackStatus.NEW, CallbackStatus.ASSIGNED}


async def test_assign_reassign_then_complete_each_audited() -> None:
    s = Staff()
    request_id = await s.new()
    s.clock.advance(minutes=5)
    assigned = await s.assign.execute(STAFF, request_id, "bob")
    assert assigned.status is CallbackStatus.ASSIGNED and assigned.assignee_id == "bob"
    assert assigned.assigned_by == "ann" and assigned.assigned_at == s.clock.at
    assert assigned.updated_at == s.clock.at
    reassigned = await s.assign.execute(STAFF, request_id, "ann")
    assert reassigned.assignee_id == "ann"
    done = await s.complete.execute(STAFF, request_id, "  Called back; sending a quote.\n ")
    assert done.status is CallbackStatus.COMPLETED and done.outcome == (
        "Called back; sending a quote."
    )
    assert done.completed_by == "ann" and done.completed_at == s.clock.at
    actions = [e.action for e in s.audit.entries if e.action != "callback_request.created"]
    assert actions == ["callback_request.assigned"] * 2 + ["callback_request.completed"]
    last = s.audit.entries[-1]
    assert last.actor_id == "ann" and last.changes["from_status"] == "assigned"
    assert last.changes["status"] == "completed"


@pytest.mark.parametrize("final", [CallbackStatus.COMPLETED, CallbackStatus.CANCELLED])
async def test_final_requests_refuse_every_move(final: CallbackStatus) -> None:
    s = Staff()
    request_id = await s.new(status=final)
    with pytest.raises(CallbackStateConflict):
        await s.assign.execute(STAFF, request_id, "bob")
    with pytest.raises(CallbackStateConflict):
        await s.complete.execute(STAFF, request_id, "done")
    with pytest.raises(CallbackStateConflict) as refused:
        await s.cancel.execute(STAFF, request_id, None)
    assert refused.value.code == "callback_state_conflict"
    assert s.requests.rows[request_id].status is final


async def test_a_request_moved_meanwhile_is_a_conflict_not_an_overwrite() -> None:
    s = Staff()
    request_id = await s.new()
    real_move = s.requests.move

    async def raced(request_id: str, statuses: frozenset[CallbackStatus],
                    changes: dict[str, object]) -> CallbackRequest | None:  # fmt: skip
        # Another agent cancelled it between the read and the write.
        s.requests.rows[request_id] = s.requests.rows[request_id].model_copy(
            update={"status": CallbackStatus.CANCELLED}
        )
        return await real_move(request_id, statuses, changes)

    s.requests.move = raced  # type: ignore[method-assign]
    with pytest.raises(CallbackStateConflict):
        await s.complete.execute(STAFF, request_id, "done")
    assert s.requests.rows[request_id].outcome is None


@pytest.mark.parametrize("assignee", ["cid", "dan", "nobody"])
async def test_the_assignee_is_an_active_user_who_reads_crm(assignee: str) -> None:
    s = Staff()
    request_id = await s.new()
    with pytest.raises(InvalidInput) as refused:
        await s.assign.execute(STAFF, request_id, assignee)
    assert refused.value.code == "invalid_assignee"
    assert s.requests.rows[request_id].status is CallbackStatus.NEW


async def test_a_department_limited_assignee_gets_their_departments_requests_only() -> None:
    s = Staff()
    routed, elsewhere, nowhere = (
        await s.new(department_id="d1"),
        await s.new(department_id="d2"),
        await s.new(),
    )
    assert (await s.assign.execute(STAFF, routed, "sue")).assignee_id == "sue"
    for request_id, assignee in ((elsewhere, "sue"), (nowhere, "sue"), (routed, "sid")):
        with pytest.raises(InvalidInput) as refused:
            await s.assign.execute(STAFF, request_id, assignee)
        assert refused.value.code == "invalid_assignee"
    assert (await s.assign.execute(STAFF, elsewhere, "bob")).assignee_id == "bob"  # unlimited


async def test_cancel_with_and_without_reason_and_bad_outcomes() -> None:
    s = Staff()
    first, second = await s.new(), await s.new()
    cancelled = await s.cancel.execute(STAFF, first, " duplicate ")
    assert cancelled.status is CallbackStatus.CANCELLED and cancelled.cancel_reason == "duplicate"
    assert cancelled.cancelled_by == "ann"
    assert (await s.cancel.execute(STAFF, second, None)).cancel_reason is None
    third = await s.new()
    for outcome in ("  ", "x" * 2001, "bad\x00"):
        with pytest.raises(InvalidInput):
            await s.complete.execute(STAFF, third, outcome)
    with pytest.raises(NotFound):
        await s.complete.execute(STAFF, "cb404", "done")


async def test_the_list_filters_and_bounds_its_page() -> None:
    s = Staff()
    ids = [await s.new() for _ in range(3)]
    await s.assign.execute(STAFF, ids[1], "bob")
    listing = ListCallbackRequests(s.requests)
    page = await listing.execute(CallbackFilter(status=CallbackStatus.NEW), cursor=None, limit=1)
    assert [r.id for r in page.items] == [ids[2]] and page.next_cursor
    nxt = await listing.execute(
        CallbackFilter(status=CallbackStatus.NEW), cursor=page.next_cursor, limit=1
    )
    assert [r.id for r in nxt.items] == [ids[0]] and nxt.next_cursor is None
    mine = await listing.execute(CallbackFilter(assignee_id="bob"), cursor=None, limit=1000)
    assert [r.id for r in mine.items] == [ids[1]]


# Notification


class Notify:
    def __init__(self, *departments: object, users: list[User] | None = None) -> None:
        self.requests = FakeCallbackRequests()
        self.outbox = FakeOutbox()
        self.jobs = FakeJobs()
        self.guard = FakeGuard()
        self.users = FakeUsers(*(users or []))
        self.notify = NotifyCallbackRequest(
            self.requests, FakeDepartments(*departments), self.users,  # type: ignore[arg-type]
            FakeRoles(ROLES), QueueEmail(self.outbox, self.jobs), self.guard, POLICY,
        )  # fmt: skip

    async def new(self, department_id: str | None) -> str:
        now = datetime(2026, 5, 4, tzinfo=UTC)
        stored = await self.requests.add(CallbackRequest(
            name="Jane <b>Doe</b>", phone="+4915112345678", message="About my order",
            department_id=department_id, created_at=now, updated_at=now,
        ))  # fmt: skip
        return stored.id or ""

    def recipients(self) -> list[str]:
        return sorted(e.to for e in self.outbox.emails.values())


async def test_the_department_members_hear_once() -> None:
    n = Notify(department("d1", "Sales", "bob", "dan", "cid", "bob"),
               users=[user("ann", "writer"), user("bob", "reader"), user("cid", "plain"),
                      user("dan", "reader", active=False)])  # fmt: skip
    request_id = await n.new("d1")
    assert await n.notify.execute(request_id) == 2
    assert n.recipients() == ["bob@acme.example.com", "cid@acme.example.com"]
    [email, _] = n.outbox.emails.values()
    assert email.template is EmailTemplate.CALLBACK_REQUESTED
    assert email.context["department_name"] == "Sales"
    assert email.context["requester_name"] == "Jane <b>Doe</b>"
    assert email.context["request_url"] == (
        f"https://parley.example.com/api/v1/callback-requests/{request_id}"
    )
    assert await n.notify.execute(request_id) == 0  # a repeated job sends nothing more
    assert len(n.outbox.emails) == 2


@pytest.mark.parametrize("department_id", [None, "gone", "empty"])
async def test_without_a_department_to_tell_the_crm_writers_hear(
    department_id: str | None,
) -> None:
    n = Notify(department("empty", "Nobody", "dan"),
               users=[user("ann", "writer"), user("bob", "reader"),
                      user("eve", "writer", active=False)])  # fmt: skip
    request_id = await n.new(department_id)
    assert await n.notify.execute(request_id) == 1
    assert n.recipients() == ["ann@acme.example.com"]
    named = "Nobody" if department_id == "empty" else None  # the request names it still
    assert next(iter(n.outbox.emails.values())).context["department_name"] == named


async def test_recipients_are_capped_and_a_gone_request_sends_nothing() -> None:
    members = [user(f"m{i}", "reader") for i in range(15)]
    n = Notify(department("d1", "Big", *(m.id or "" for m in members)), users=members)
    assert await n.notify.execute(await n.new("d1")) == POLICY.notify_max_recipients
    assert await n.notify.execute("cb404") == 0


async def test_a_failed_notification_lets_the_retry_send() -> None:
    n = Notify(users=[user("ann", "writer")])
    request_id = await n.new(None)
    n.jobs.down = True
    with pytest.raises(Exception, match="job queue"):
        await n.notify.execute(request_id)
    n.jobs.down = False
    assert await n.notify.execute(request_id) == 1
