"""QueueEmail and DeliverEmail with hand-written fakes of their ports."""

from __future__ import annotations

import pytest

from api.common.clock import utcnow
from api.domain.email.messages import (
    EmailStatus,
    EmailTemplate,
    MailLinks,
)
from api.domain.errors import (
    InvalidInput,
    NotFound,
    PermanentFailure,
    ServiceUnavailable,
    TemporaryFailure,
)
from api.domain.tenancy import TenantId, tenant_context
from api.domain.tenants.profile import TenantProfile
from api.domain.tenants.tenant import Tenant, TenantStatus
from api.usecases.email.deliver_email import DeliverEmail
from api.usecases.kernel.mailer import SEND_EMAIL_JOB, QueueEmail
from tests.fakes.crm_callbacks import FakeProfiles
from tests.fakes.email import FakeOutbox, FakeRenderer, FakeSender
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
    deliver = DeliverEmail(
        outbox, FakeTenants(acme()), FakeProfiles(), FakeRenderer(), sender, LINKS
    )
    with tenant_context(TenantId(TENANT)):
        email_id = await queued(outbox)
        assert await deliver.execute(email_id) is EmailStatus.SENT
        assert await deliver.execute(email_id) is EmailStatus.SENT  # redelivered: no resend
    [message] = sender.sent
    assert message.subject == "Acme: welcome" and message.to == ["ana@example.com"]
    assert message.sender_name is None  # SMTP_FROM_NAME, without a display name
    assert outbox.emails[email_id].attempts == 1


async def test_deliver_dresses_the_message_in_the_company_profile() -> None:
    outbox, sender, profiles = FakeOutbox(), FakeSender(), FakeProfiles()
    profiles.profile = TenantProfile(
        display_name="Acme Jewellers", brand_color="#aa0011", email_footer="Acme Ltd, Rome"
    )
    renderer = FakeRenderer()
    deliver = DeliverEmail(outbox, FakeTenants(acme()), profiles, renderer, sender, LINKS)
    with tenant_context(TenantId(TENANT)):
        assert await deliver.execute(await queued(outbox)) is EmailStatus.SENT
    [message] = sender.sent
    assert message.subject == "Acme Jewellers: welcome"
    assert message.sender_name == "Acme Jewellers"


async def test_temporary_failure_is_raised_and_fails_only_on_the_last_attempt() -> None:
    outbox = FakeOutbox()
    sender = FakeSender(TemporaryFailure("451"), TemporaryFailure("451"))
    deliver = DeliverEmail(
        outbox, FakeTenants(acme()), FakeProfiles(), FakeRenderer(), sender, LINKS
    )
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
    deliver = DeliverEmail(
        outbox, FakeTenants(acme()), FakeProfiles(), FakeRenderer(),
        FakeSender(PermanentFailure("550")), LINKS,
    )  # fmt: skip
    with tenant_context(TenantId(TENANT)):
        email_id = await queued(outbox)
        with pytest.raises(PermanentFailure):
            await deliver.execute(email_id)
        assert outbox.emails[email_id].status is EmailStatus.FAILED
        # A later redelivery does not try again.
        assert await deliver.execute(email_id) is EmailStatus.FAILED


async def test_unknown_email_is_not_found() -> None:
    deliver = DeliverEmail(
        FakeOutbox(), FakeTenants(acme()), FakeProfiles(), FakeRenderer(), FakeSender(), LINKS
    )
    with tenant_context(TenantId(TENANT)), pytest.raises(NotFound):
        await deliver.execute("missing")
