"""A worker killed (SIGKILL) in the middle of sending email, then a new worker: every email
reaches the SMTP server exactly once.

The SMTP server holds each conversation at RCPT (before any content), so the kill lands
while the dead worker holds two emails (their send leases) and has reserved the rest (late
acks: Redis would hand those jobs back only after the hour-long visibility timeout). The
test plays beat, running the email sweep: nothing is re-queued while the dead worker's
leases last, then every email is, and the new worker sends each once. Campaign batches and
contact imports under a killed worker are proven by `tests/e2e/messaging/
test_campaign_worker_crash.py` and `tests/e2e/contacts/test_contact_import_crash.py`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from subprocess import Popen

import devservers
import pytest
from celery import Celery

from api.config import Settings
from api.domain.clock import Clock
from api.domain.email.messages import (
    EmailPolicy,
    EmailStatus,
    EmailTemplate,
    OutboundEmailRepository,
    StaleEmails,
)
from api.domain.jobs import JobQueue
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.email.sweep_emails import SweepOutboundEmails
from api.usecases.kernel.mailer import QueueEmail
from tests.support.app import AppClient, serve
from tests.support.onboarding import onboard
from tests.support.settings import redis_db
from tests.support.smtp import SmtpCapture, start_smtp
from tests.support.workers import (
    broker_control,
    own_broker_settings,
    started_worker,
    stop,
    worker_env,
)

pytestmark = pytest.mark.resilience

EMAILS = 6
LEASE_SECONDS = 6  # the SMTP conversation is cut at 3 s
BROKER, RESULTS = 10, 11  # Redis databases of this test's own: no other worker takes its jobs


@pytest.fixture
def db() -> str:
    return f"crash_{uuid.uuid4().hex[:10]}"


def crash_settings(mongo_url: str, redis_url: str, db: str) -> Settings:
    return own_broker_settings(mongo_url, redis_url, db, BROKER, RESULTS)


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpCapture, int]]:
    port = devservers.free_port()
    controller, capture = start_smtp(port)
    try:
        yield capture, port
    finally:
        controller.stop()


@pytest.fixture
def control(mongo_url: str, redis_url: str, db: str) -> Iterator[Celery]:
    with broker_control(crash_settings(mongo_url, redis_url, db), "tests-email-crash") as app:
        yield app


@pytest.fixture
async def app(mongo_url: str, redis_url: str, db: str) -> AsyncIterator[AppClient]:
    async with serve(crash_settings(mongo_url, redis_url, db)) as http:
        yield http


def start_worker(env: dict[str, str], log: Path, control: Celery, name: str) -> Popen[bytes]:
    command = ["worker", "--pool=threads", "--concurrency=2", "--loglevel=INFO", "-n", name]
    return started_worker(command, env, log, control)


async def until(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_worker_killed_mid_send_leaves_every_email_sent_exactly_once(
    app: AppClient,
    smtp: tuple[SmtpCapture, int],
    control: Celery,
    mongo_url: str,
    redis_url: str,
    db: str,
    tmp_path: Path,
) -> None:
    capture, port = smtp
    env = {
        **worker_env(mongo_url, redis_url, db, port),
        "CELERY_BROKER_URL": redis_db(redis_url, BROKER),
        "CELERY_RESULT_BACKEND": redis_db(redis_url, RESULTS),
        "MAIL_SEND_LEASE_SECONDS": str(LEASE_SECONDS),
        "SMTP_TIMEOUT_SECONDS": "30",
    }
    acme = await onboard(app, "acme")
    container = app.container
    capture.hold_rcpt = True
    with tenant_context(TenantId(acme.tenant.id or "")):
        queue: QueueEmail = container.resolve(QueueEmail)
        context = {"user_name": "P", "login_url": "https://acme.example.com/login"}
        emails = [
            await queue.execute(f"person{n}@example.com", EmailTemplate.WELCOME, context)
            for n in range(EMAILS)
        ]
    ids = [email.id or "" for email in emails]
    first = start_worker(env, tmp_path / "first.log", control, "mail-first@%h")
    try:

        async def two_in_flight() -> bool:
            return capture.held >= 2

        await until(two_in_flight, "two SMTP conversations in flight")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        stop(first)
    capture.hold_rcpt = False
    assert capture.received == []

    # What beat does (the sweep's age threshold at 0 here): while the dead worker's leases
    # last, only the emails it had reserved but not begun are queued again.
    policy: EmailPolicy = container.resolve(EmailPolicy)
    sweep = SweepOutboundEmails(
        container.resolve(StaleEmails), container.resolve(JobQueue), container.resolve(Clock),
        replace(policy, sweep_after_seconds=0),
    )  # fmt: skip
    swept_early = await sweep.execute()
    assert swept_early <= EMAILS - 2, "the dead worker's leases were not held"
    second = start_worker(env, tmp_path / "second.log", control, "mail-second@%h")
    try:

        async def all_sent() -> bool:
            await sweep.execute()
            await asyncio.sleep(0.5)
            with tenant_context(TenantId(acme.tenant.id or "")):
                outbox: OutboundEmailRepository = container.resolve(OutboundEmailRepository)
                emails = [await outbox.get(i) for i in ids]
            return all(e is not None and e.status is EmailStatus.SENT for e in emails)

        await until(all_sent, "every email sent after the restart", seconds=120)
        assert await sweep.execute() == 0  # nothing left for the sweep
    finally:
        stop(second)
    ours = [r for r in capture.received if r.rcpt_tos[0].startswith("person")]
    assert Counter(r.rcpt_tos[0] for r in ours) == {f"person{n}@example.com": 1
                                                    for n in range(EMAILS)}  # fmt: skip
    message_ids = Counter(str(r.message["Message-ID"]) for r in capture.received)
    assert set(message_ids.values()) == {1}, message_ids
