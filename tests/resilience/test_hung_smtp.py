"""A hung mail server never blocks other jobs: tenant A's emails go to an SMTP server that
stops answering mid-conversation (at RCPT), more of them than the worker has threads,
while tenant B's sends, through the same worker, reach its Graph API within seconds and
the API answers; once the server answers again every email goes out exactly once.

Every tenant's mail goes through the deployment's one SMTP server (`SMTP_*`), so what is
proven is that the jobs of every other kind keep running. A real Celery worker (threads
pool) on brokers of this test's own. Without the cap (`MAIL_MAX_IN_FLIGHT` 0) every
thread waited on the mail server and no send left until it answered. How long B's sends
took is printed (`-s`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from celery import Celery

from api.domain.email.messages import EmailStatus, EmailTemplate, OutboundEmailRepository
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.kernel.mailer import QueueEmail
from tests.support.app import AppClient
from tests.support.fake_graph import FakeGraph, serve_fake_graph
from tests.support.gate import timed
from tests.support.inbox import stored_channel
from tests.support.onboarding import onboard, owner_headers
from tests.support.own_jobs import OwnJobs, OwnJobsOf
from tests.support.sending import customer_wrote, queued
from tests.support.smtp import SmtpCapture

pytestmark = pytest.mark.resilience

OWN_JOBS = OwnJobsOf(broker=14, results=15, prefix="smtphung")
THREADS = 4
CAP = 2  # MAIL_MAX_IN_FLIGHT: below the worker's threads, as the README says
EMAILS = 3 * THREADS
B_SENDS = 3
B_DEADLINE = 20.0  # seconds for B's sends while the mail server hangs (a send takes ms)


@pytest.fixture
def worker(
    own_jobs: OwnJobs, own_control: Celery, own_smtp: tuple[SmtpCapture, int], tmp_path: Path
) -> Iterator[None]:
    env = own_jobs.worker_env(
        own_smtp[1],
        WHATSAPP_ALLOWED_GRAPH_BASE_URLS="*",
        MAIL_MAX_IN_FLIGHT=str(CAP),
        MAIL_BUSY_RETRY_SECONDS="1",
        # Long enough that the held conversations are still open when the server answers.
        SMTP_TIMEOUT_SECONDS="120",
        MAIL_SEND_LEASE_SECONDS="300",
    )
    with own_jobs.worker(env, tmp_path / "worker.log", own_control, "smtphung@%h", THREADS):
        yield


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    fine = FakeGraph()
    async with serve_fake_graph(fine):
        yield fine


async def test_a_hung_mail_server_never_holds_up_other_jobs_and_mail_goes_out_once(
    own_app: AppClient, worker: None, own_smtp: tuple[SmtpCapture, int], graph: FakeGraph
) -> None:
    app, (capture, _) = own_app, own_smtp
    acme, beta = await onboard(app, "acme"), await onboard(app, "beta")
    channel = await stored_channel(app.container, beta.tenant.id or "", graph.base_url)
    b_conversation = (await customer_wrote(app.container, channel)).conversation_id
    b_headers = await owner_headers(app, beta)

    capture.hold_rcpt = True
    with tenant_context(TenantId(acme.tenant.id or "")):
        queue: QueueEmail = app.container.resolve(QueueEmail)
        context = {"user_name": "P", "login_url": "https://acme.example.com/login"}
        ids = [
            (await queue.execute(f"person{n}@example.com", EmailTemplate.WELCOME, context)).id
            for n in range(EMAILS)
        ]
    deadline = time.monotonic() + 30
    while capture.held < CAP:  # as many of A's emails as may be at the server hang there
        assert time.monotonic() < deadline, f"A's emails did not reach SMTP: {capture.held}"
        await asyncio.sleep(0.05)

    started = time.monotonic()
    for n in range(B_SENDS):
        body = {"conversation_id": b_conversation, "type": "text", "text": {"body": f"b {n}"}}
        await queued(app, b_headers, body)
    while graph.calls("send") < B_SENDS:
        waited = time.monotonic() - started
        assert waited < B_DEADLINE, (
            f"B's sends held up by the hung mail server: {graph.calls('send')} of {B_SENDS} "
            f"after {waited:.1f} s ({capture.held} emails at the server)"
        )
        await asyncio.sleep(0.05)
    took = time.monotonic() - started
    await timed(5.0, "B's profile", app.get("/api/v1/auth/me", headers=b_headers))
    assert capture.held == CAP and capture.received == []  # the rest wait, holding no thread
    print(f"B's {B_SENDS} sends reached Meta {took:.2f} s after queuing, "
          f"with {capture.held} emails held at the mail server")  # fmt: skip

    capture.hold_rcpt = False  # the server answers again: every email goes out, once
    deadline = time.monotonic() + 120
    with tenant_context(TenantId(acme.tenant.id or "")):
        outbox: OutboundEmailRepository = app.container.resolve(OutboundEmailRepository)
        while True:
            emails = [await outbox.get(i or "") for i in ids]
            if all(e is not None and e.status is EmailStatus.SENT for e in emails):
                break
            assert time.monotonic() < deadline, [e.status for e in emails if e is not None]
            await asyncio.sleep(0.2)
    assert Counter(r.rcpt_tos[0] for r in capture.received) == {
        f"person{n}@example.com": 1 for n in range(EMAILS)
    }
    message_ids = Counter(str(r.message["Message-ID"]) for r in capture.received)
    assert set(message_ids.values()) == {1}, message_ids
