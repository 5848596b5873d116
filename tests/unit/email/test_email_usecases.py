"""QueueEmail and DeliverEmail with hand-written fakes of their ports."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from api.common.clock import utcnow
from api.domain.email.messages import (
    EmailMessage,
    EmailPolicy,
    EmailStatus,
    EmailTemplate,
    MailLinks,
)
from api.domain.errors import (
    Deferred,
    InvalidInput,
    NotFound,
    PermanentFailure,
    ServiceUnavailable,
    TemporaryFailure,
)
from api.domain.tenancy import TenantId, tenant_context
from api.domain.tenants.profile import TenantProfile
from api.domain.tenants.tenant import Tenant, TenantStatus
from api.usecases.email.deliver_email import SMTP_SLOTS, DeliverEmail
from api.usecases.kernel.mailer import SEND_EMAIL_JOB, QueueEmail
from tests.fakes.clock import FakeUtcClock
from tests.fakes.crm_callbacks import FakeProfiles
from tests.fakes.email import FakeOutbox, FakeRenderer, FakeSender, FakeSlots
from tests.fakes.jobs import FakeJobs
from tests.fakes.tenants import FakeTenants

TENANT = "a" * 24
LINKS = MailLinks("https://parley.example.com/api/v1")


def acme() -> Tenant:
    now = utcnow()
    return Tenant(
        id=TENANT, name="Acme", subdomain="acme", status=TenantStatus.ACTIVE,
        created_at=now, updated_at=now,
    )  # fmt: skip


LEASE = 60.0


def deliverer(
    outbox: FakeOutbox,
    sender: FakeSender,
    clock: FakeUtcClock | None = None,
    profiles: FakeProfiles | None = None,
    lease: float = LEASE,
    slots: FakeSlots | None = None,
    max_in_flight: int = 0,
) -> DeliverEmail:
    policy = EmailPolicy(lease_seconds=lease, max_in_flight=max_in_flight, busy_retry_seconds=3)
    return DeliverEmail(
        outbox, FakeTenants(acme()), profiles or FakeProfiles(), FakeRenderer(), sender, LINKS,
        clock or FakeUtcClock(), policy, slots or FakeSlots(),
    )  # fmt: skip


async def queued(outbox: FakeOutbox) -> str:
    email = await QueueEmail(outbox, FakeJobs()).execute(
        "Ana@Example.com", EmailTemplate.WELCOME, {"user_name": "Ana"}
    )
    return email.id or ""


async def test_queue_stores_then_enqueues_ids_only() -> None:
    outbox, jobs = FakeOutbox(), FakeJobs()
    with tenant_context(TenantId(TENANT)):
        email = await QueueEmail(outbox, jobs).execute(
            "Ana@Example.com", EmailTemplate.WELCOME, {"user_name": "Ana"}
        )
    assert email.to == "ana@example.com" and email.status is EmailStatus.QUEUED
    assert jobs.queued == [(SEND_EMAIL_JOB, {"email_id": email.id})]


async def test_queue_refuses_bad_addresses_and_stores_nothing() -> None:
    outbox, jobs = FakeOutbox(), FakeJobs()
    with pytest.raises(InvalidInput):
        await QueueEmail(outbox, jobs).execute("not-an-address", EmailTemplate.WELCOME, {})
    assert outbox.emails == {} and jobs.queued == []


async def test_queue_down_marks_the_record_failed_and_raises() -> None:
    outbox = FakeOutbox()
    with pytest.raises(ServiceUnavailable):
        await QueueEmail(outbox, FakeJobs(down=True)).execute(
            "ana@example.com", EmailTemplate.WELCOME, {}
        )
    [email] = outbox.emails.values()
    assert email.status is EmailStatus.FAILED and email.last_error


async def test_deliver_sends_once_with_tenant_branding() -> None:
    outbox, sender = FakeOutbox(), FakeSender()
    deliver = deliverer(outbox, sender)
    with tenant_context(TenantId(TENANT)):
        email_id = await queued(outbox)
        assert await deliver.execute(email_id) is EmailStatus.SENT
        assert await deliver.execute(email_id) is EmailStatus.SENT  # redelivered: no resend
    [message] = sender.sent
    assert message.subject == "Acme: welcome" and message.to == ["ana@example.com"]
    assert message.sender_name is None  # SMTP_FROM_NAME, without a display name
    assert outbox.emails[email_id].attempts == 1


async def test_with_the_mail_servers_slots_taken_a_run_is_deferred_untouched() -> None:
    outbox, sender, slots = FakeOutbox(), FakeSender(), FakeSlots()
    deliver = deliverer(outbox, sender, slots=slots, max_in_flight=1)
    await slots.acquire(SMTP_SLOTS, "another-email", limit=1, hold_seconds=LEASE)
    with tenant_context(TenantId(TENANT)):
        email_id = await queued(outbox)
        with pytest.raises(Deferred) as deferred:
            await deliver.execute(email_id)
        assert deferred.value.retry_after == 3  # MAIL_BUSY_RETRY_SECONDS
        assert email_id not in outbox.leases and outbox.emails[email_id].attempts == 0
        await slots.release(SMTP_SLOTS, "another-email")
        assert await deliver.execute(email_id) is EmailStatus.SENT
    assert len(sender.sent) == 1 and slots.held[SMTP_SLOTS] == set()  # given back


async def test_deliver_dresses_the_message_in_the_company_profile() -> None:
    outbox, sender, profiles = FakeOutbox(), FakeSender(), FakeProfiles()
    profiles.profile = TenantProfile(
        display_name="Acme Jewellers", brand_color="#aa0011", email_footer="Acme Ltd, Rome"
    )
    deliver = deliverer(outbox, sender, profiles=profiles)
    with tenant_context(TenantId(TENANT)):
        assert await deliver.execute(await queued(outbox)) is EmailStatus.SENT
    [message] = sender.sent
    assert message.subject == "Acme Jewellers: welcome"
    assert message.sender_name == "Acme Jewellers"


async def test_temporary_failure_is_raised_and_fails_only_on_the_last_attempt() -> None:
    outbox = FakeOutbox()
    sender = FakeSender(TemporaryFailure("451"), TemporaryFailure("451"))
    deliver = deliverer(outbox, sender)
    with tenant_context(TenantId(TENANT)):
        email_id = await queued(outbox)
        with pytest.raises(TemporaryFailure):
            await deliver.execute(email_id)
        assert outbox.emails[email_id].status is EmailStatus.QUEUED
        with pytest.raises(TemporaryFailure):
            await deliver.execute(email_id, last_attempt=True)
    assert outbox.emails[email_id].status is EmailStatus.FAILED
    assert outbox.emails[email_id].attempts == 2 and sender.sent == []


async def test_permanent_failure_marks_failed_at_once() -> None:
    outbox = FakeOutbox()
    deliver = deliverer(outbox, FakeSender(PermanentFailure("550")))
    with tenant_context(TenantId(TENANT)):
        email_id = await queued(outbox)
        with pytest.raises(PermanentFailure):
            await deliver.execute(email_id)
        assert outbox.emails[email_id].status is EmailStatus.FAILED
        # A later redelivery does not try again.
        assert await deliver.execute(email_id) is EmailStatus.FAILED


async def test_unknown_email_is_not_found() -> None:
    deliver = deliverer(FakeOutbox(), FakeSender())
    with tenant_context(TenantId(TENANT)), pytest.raises(NotFound):
        await deliver.execute("missing")


async def test_an_email_another_run_holds_is_not_sent_until_its_lease_runs_out() -> None:
    """A run that died holding the email (its job redelivered, or re-queued by the sweep):
    nothing is sent while its lease lasts; once it has run out, one run sends it."""
    outbox, sender, clock = FakeOutbox(), FakeSender(), FakeUtcClock()
    deliver = deliverer(outbox, sender, clock)
    with tenant_context(TenantId(TENANT)):
        email_id = await queued(outbox)
        assert await outbox.claim(email_id, now=clock.now(), until=clock.now())  # a dead run
        outbox.leases[email_id] = clock.now() + timedelta(seconds=LEASE)
        assert await deliver.execute(email_id) is EmailStatus.QUEUED
        clock.advance(seconds=LEASE - 1)
        assert await deliver.execute(email_id) is EmailStatus.QUEUED
        assert sender.sent == []
        clock.advance(seconds=2)
        assert await deliver.execute(email_id) is EmailStatus.SENT
        assert await deliver.execute(email_id) is EmailStatus.SENT
    assert len(sender.sent) == 1 and outbox.emails[email_id].attempts == 1
    assert email_id not in outbox.leases


async def test_a_send_outlasting_half_the_lease_is_cut_and_retried() -> None:
    class Hung(FakeSender):
        async def send(self, message: EmailMessage) -> None:
            await asyncio.sleep(10)

    outbox = FakeOutbox()
    deliver = deliverer(outbox, Hung(), lease=0.1)
    with tenant_context(TenantId(TENANT)):
        email_id = await queued(outbox)
        with pytest.raises(TemporaryFailure):
            await deliver.execute(email_id)
    assert outbox.emails[email_id].status is EmailStatus.QUEUED
    assert email_id not in outbox.leases  # given back: the retry may take it at once
