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
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest
from celery import Celery

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
from tests.support.app import AppClient
from tests.support.onboarding import onboard
from tests.support.own_jobs import OwnJobs, OwnJobsOf
from tests.support.smtp import SmtpCapture
from tests.support.workers import stop

pytestmark = pytest.mark.resilience

EMAILS = 6
LEASE_SECONDS = 6  # the SMTP conversation is cut at 3 s
OWN_JOBS = OwnJobsOf(broker=10, results=11, prefix="crash")


async def until(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_worker_killed_mid_send_leaves_every_email_sent_exactly_once(
    own_jobs: OwnJobs,
    own_app: AppClient,
    own_smtp: tuple[SmtpCapture, int],
    own_control: Celery,
    tmp_path: Path,
) -> None:
    app, control, (capture, port) = own_app, own_control, own_smtp
    env = own_jobs.worker_env(
        port, MAIL_SEND_LEASE_SECONDS=str(LEASE_SECONDS), SMTP_TIMEOUT_SECONDS="30"
    )
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
    first = own_jobs.start_worker(env, tmp_path / "first.log", control, "mail-first@%h", 2)
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
    with own_jobs.worker(env, tmp_path / "second.log", control, "mail-second@%h", 2):

        async def all_sent() -> bool:
            await sweep.execute()
            await asyncio.sleep(0.5)
            with tenant_context(TenantId(acme.tenant.id or "")):
                outbox: OutboundEmailRepository = container.resolve(OutboundEmailRepository)
                emails = [await outbox.get(i) for i in ids]
            return all(e is not None and e.status is EmailStatus.SENT for e in emails)

        await until(all_sent, "every email sent after the restart", seconds=120)
        assert await sweep.execute() == 0  # nothing left for the sweep
    ours = [r for r in capture.received if r.rcpt_tos[0].startswith("person")]
    assert Counter(r.rcpt_tos[0] for r in ours) == {f"person{n}@example.com": 1
                                                    for n in range(EMAILS)}  # fmt: skip
    message_ids = Counter(str(r.message["Message-ID"]) for r in capture.received)
    assert set(message_ids.values()) == {1}, message_ids
