"""The outbound email repository against a real Mongo-wire server, within tenants."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from api.common.clock import utcnow
from api.domain.email.messages import EmailStatus, EmailTemplate, OutboundEmail
from api.domain.errors import NotFound, TenantRequired
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.email.outbound import (
    BeanieOutboundEmailRepository,
    MongoStaleEmails,
    OutboundEmailDocument,
)

TENANT_A = TenantId("a" * 24)
TENANT_B = TenantId("b" * 24)


@pytest.fixture
def outbox() -> BeanieOutboundEmailRepository:
    return BeanieOutboundEmailRepository()


def new_email(to: str = "ada@example.com") -> OutboundEmail:
    return OutboundEmail(
        to=to,
        template=EmailTemplate.WELCOME,
        context={"user_name": "Ada", "login_url": "https://app.example.com/login"},
        created_at=utcnow(),
    )


async def test_add_then_get_round_trips_the_entity(outbox: BeanieOutboundEmailRepository) -> None:
    email = new_email()
    with tenant_context(TENANT_A):
        stored = await outbox.add(email)
        assert stored.id is not None
        fetched = await outbox.get(stored.id)

    assert fetched is not None
    assert fetched.model_dump(exclude={"created_at"}) == stored.model_dump(exclude={"created_at"})
    assert fetched.model_dump(exclude={"id", "created_at"}) == email.model_dump(
        exclude={"id", "created_at"}
    )
    assert abs(fetched.created_at - email.created_at) < timedelta(milliseconds=1)
    assert fetched.created_at.tzinfo is not None
    raw = await OutboundEmailDocument.get_pymongo_collection().find_one({"to": "ada@example.com"})
    assert raw is not None and raw["tenant_id"] == TENANT_A
    assert raw["status"] == "queued" and raw["template"] == "welcome"


async def test_record_attempt_counts_and_keeps_the_last_error(
    outbox: BeanieOutboundEmailRepository,
) -> None:
    with tenant_context(TENANT_A):
        stored = await outbox.add(new_email())
        assert stored.id is not None
        await outbox.record_attempt(stored.id, "SMTP 451 4.3.0 try again")
        await outbox.record_attempt(stored.id, "SMTP timeout")
        after_errors = await outbox.get(stored.id)
        await outbox.record_attempt(stored.id, None)
        after_success = await outbox.get(stored.id)

    assert after_errors is not None and after_success is not None
    assert (after_errors.attempts, after_errors.last_error) == (2, "SMTP timeout")
    assert (after_success.attempts, after_success.last_error) == (3, None)


async def test_concurrent_attempts_are_all_counted(outbox: BeanieOutboundEmailRepository) -> None:
    with tenant_context(TENANT_A):
        stored = await outbox.add(new_email())
        assert stored.id is not None
        email_id = stored.id
        await asyncio.gather(*(outbox.record_attempt(email_id, f"e{i}") for i in range(10)))
        fetched = await outbox.get(email_id)
    assert fetched is not None and fetched.attempts == 10


async def test_a_long_error_is_truncated(outbox: BeanieOutboundEmailRepository) -> None:
    with tenant_context(TENANT_A):
        stored = await outbox.add(new_email())
        assert stored.id is not None
        await outbox.record_attempt(stored.id, "x" * 5000)
        fetched = await outbox.get(stored.id)
    assert fetched is not None and fetched.last_error is not None
    assert 0 < len(fetched.last_error) <= 500


async def test_mark_sent_stamps_sent_at_and_failed_does_not(
    outbox: BeanieOutboundEmailRepository,
) -> None:
    with tenant_context(TENANT_A):
        sent = await outbox.add(new_email("sent@example.com"))
        failed = await outbox.add(new_email("failed@example.com"))
        assert sent.id is not None and failed.id is not None
        before = utcnow()
        await outbox.mark(sent.id, EmailStatus.SENT)
        await outbox.mark(failed.id, EmailStatus.FAILED)
        sent_now = await outbox.get(sent.id)
        failed_now = await outbox.get(failed.id)

    assert sent_now is not None and failed_now is not None
    assert sent_now.status is EmailStatus.SENT
    assert sent_now.sent_at is not None
    assert sent_now.sent_at >= before - timedelta(milliseconds=1)
    assert failed_now.status is EmailStatus.FAILED and failed_now.sent_at is None


async def test_another_tenant_can_neither_see_nor_change_it(
    outbox: BeanieOutboundEmailRepository,
) -> None:
    with tenant_context(TENANT_A):
        stored = await outbox.add(new_email())
    assert stored.id is not None
    email_id = stored.id

    with tenant_context(TENANT_B):
        assert await outbox.get(email_id) is None
        with pytest.raises(NotFound):
            await outbox.record_attempt(email_id, "smuggled")
        with pytest.raises(NotFound):
            await outbox.mark(email_id, EmailStatus.SENT)

    with tenant_context(TENANT_A):
        untouched = await outbox.get(email_id)
    assert untouched is not None
    assert (untouched.attempts, untouched.last_error) == (0, None)
    assert untouched.status is EmailStatus.QUEUED and untouched.sent_at is None


async def test_unknown_or_malformed_ids(outbox: BeanieOutboundEmailRepository) -> None:
    with tenant_context(TENANT_A):
        assert await outbox.get("not-an-object-id") is None
        assert await outbox.get("c" * 24) is None
        with pytest.raises(NotFound):
            await outbox.record_attempt("not-an-object-id", None)
        with pytest.raises(NotFound):
            await outbox.mark("c" * 24, EmailStatus.SENT)


async def test_without_a_tenant_everything_is_refused(
    outbox: BeanieOutboundEmailRepository,
) -> None:
    with tenant_context(TENANT_A):
        stored = await outbox.add(new_email())
    assert stored.id is not None
    email_id = stored.id

    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: outbox.add(new_email("other@example.com")),
        lambda: outbox.get(email_id),
        lambda: outbox.record_attempt(email_id, "x"),
        lambda: outbox.mark(email_id, EmailStatus.SENT),
        lambda: outbox.record_attempt("not-an-object-id", "x"),
    ]
    for call in calls:
        with pytest.raises(TenantRequired):
            await call()
    assert await OutboundEmailDocument.find_all().count() == 1
    raw = await OutboundEmailDocument.get_pymongo_collection().find_one({})
    assert raw is not None and raw["attempts"] == 0 and raw["status"] == "queued"


async def test_indexes_start_with_the_tenant() -> None:
    info = await OutboundEmailDocument.get_pymongo_collection().index_information()
    keys = {name: [field for field, _ in spec["key"]] for name, spec in info.items()}
    assert keys["tenant_created"] == ["tenant_id", "created_at"]
    assert info["tenant_created"]["key"][1] == ("created_at", -1)
    assert keys["tenant_status"] == ["tenant_id", "status"]
    # The one platform-level read (the sweeper's, across tenants) has its own index.
    assert keys.pop("status_created") == ["status", "created_at"]
    assert all(fields[0] in ("_id", "tenant_id") for fields in keys.values())


async def test_one_run_at_a_time_holds_an_email_and_the_sweep_sees_the_rest(
    outbox: BeanieOutboundEmailRepository,
) -> None:
    now = utcnow()
    later = now + timedelta(seconds=60)
    with tenant_context(TENANT_A):
        held = (await outbox.add(new_email("held@example.com"))).id or ""
        free = (await outbox.add(new_email("free@example.com"))).id or ""
        sent = (await outbox.add(new_email("sent@example.com"))).id or ""
        claims = await asyncio.gather(*(outbox.claim(held, now=now, until=later)
                                        for _ in range(5)))  # fmt: skip
        assert sorted(claims) == [False, False, False, False, True]
        assert await outbox.claim(sent, now=now, until=later)
        await outbox.record_attempt(sent, None, EmailStatus.SENT)  # gives the lease back
        assert not await outbox.claim(sent, now=now, until=later)  # settled
    with tenant_context(TENANT_B):
        assert not await outbox.claim(free, now=now, until=later)  # another tenant's
    stale = MongoStaleEmails()
    after = now + timedelta(seconds=1)
    assert await stale.queued_before(after, now=now, limit=10) == [(TENANT_A, free)]
    # Once the lease has run out, the held email is the sweep's too, and anyone's to take.
    assert await stale.queued_before(after, now=later + timedelta(seconds=1), limit=10) == [
        (TENANT_A, held), (TENANT_A, free)
    ]  # fmt: skip
    with tenant_context(TENANT_A):
        assert await outbox.claim(
            held, now=later + timedelta(seconds=1), until=later + timedelta(seconds=61)
        )


async def test_an_attempt_and_its_outcome_are_one_update(
    outbox: BeanieOutboundEmailRepository,
) -> None:
    with tenant_context(TENANT_A):
        stored = await outbox.add(new_email())
        assert stored.id is not None
        await outbox.record_attempt(stored.id, None, EmailStatus.SENT)
        sent = await outbox.get(stored.id)
    assert sent is not None
    assert (sent.status, sent.attempts, sent.last_error) == (EmailStatus.SENT, 1, None)
    assert sent.sent_at is not None
