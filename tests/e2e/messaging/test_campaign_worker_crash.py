"""A worker killed (SIGKILL) in the middle of a campaign run while the fake Graph API holds
its requests, then a new worker: every recipient is sent exactly once, counted at the fake.

The crash worker is a real Celery worker (`api.worker`, threads pool) on a broker of its
own (Redis databases 3 and 4), so the session's worker never takes these jobs. The test
plays beat: it queues the campaign sweep every second until the run has completed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from redis.asyncio import Redis

from api.domain.messaging.campaigns import RecipientStatus, RunStatus
from api.infrastructure.jobs.celery_app import DEFAULT_QUEUE
from api.infrastructure.jobs.queue import TENANT_HEADER
from api.usecases.messaging.apply_message_status import ApplyMessageStatus, StatusOutcome
from api.usecases.messaging.campaign_rules import SEND_RUN_JOB, SWEEP_CAMPAIGNS_JOB
from tests.support.app import AppClient
from tests.support.campaign_sending import rows_of, run_of, running_campaign, sends_to, set_tier
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import status_event, stored_channel
from tests.support.onboarding import onboard
from tests.support.settings import redis_db
from tests.support.webhook_calls import wait_for
from tests.support.workers import start_celery, stop, worker_env

IN_FLIGHT = 5
COUNT = 30


@pytest.fixture
def crash_broker(redis_url: str) -> Iterator[Celery]:
    app = Celery("crash-tests", broker=redis_db(redis_url, 3), backend=redis_db(redis_url, 4))
    app.conf.update(
        task_serializer="json", accept_content=["json"], task_default_queue=DEFAULT_QUEUE
    )
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def crash_env(mongo_url: str, redis_url: str, db_name: str, smtp_port: int) -> dict[str, str]:
    return {
        **worker_env(mongo_url, redis_url, db_name, smtp_port),
        "CELERY_BROKER_URL": redis_db(redis_url, 3),
        "CELERY_RESULT_BACKEND": redis_db(redis_url, 4),
        "WHATSAPP_TIMEOUT_SECONDS": "3",  # claims last 3 + 10 s
        "CAMPAIGN_MAX_IN_FLIGHT": str(IN_FLIGHT),
        "CAMPAIGN_BATCH_SIZE": str(IN_FLIGHT),
        "CAMPAIGN_CLAIM_SECONDS": "1",
    }


def start_worker(env: dict[str, str], log: Path, broker: Celery) -> subprocess.Popen[bytes]:
    process = start_celery(
        ["worker", "--pool=threads", "--concurrency=2", "--loglevel=INFO", "-n", "crash@%h"],
        env,
        log,
    )
    deadline = time.monotonic() + 60
    while not broker.control.ping(timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the crash worker did not start:\n{log.read_text()[-3000:]}")
    return process


async def test_a_worker_killed_mid_run_sends_nobody_twice(
    client: AppClient,
    graph: FakeGraph,
    redis_url: str,
    crash_broker: Celery,
    crash_env: dict[str, str],
    tmp_path: Path,
) -> None:
    container = client.container
    broker_db = Redis.from_url(redis_db(redis_url, 3))
    await broker_db.flushdb()
    await broker_db.aclose()
    tenant = await onboard(client, "acme")
    channel = await stored_channel(container, tenant.tenant.id or "", graph.base_url)
    channel = await set_tier(container, channel, 1000)
    arranged = await running_campaign(container, channel, COUNT, rate=1000)
    graph.delay_seconds = 1.0  # each request is held a second: five in flight at a time
    first = start_worker(crash_env, tmp_path / "first.log", crash_broker)
    try:
        crash_broker.send_task(SEND_RUN_JOB, kwargs={"run_id": arranged.run_id},
                               headers={TENANT_HEADER: arranged.tenant_id})  # fmt: skip

        async def all_slots_held() -> bool:
            return graph.calls("send") >= 2 * IN_FLIGHT and graph.in_flight == IN_FLIGHT

        await wait_for(all_slots_held, "the worker's requests in flight")
        os.killpg(first.pid, signal.SIGKILL)
    finally:
        stop(first)
    received = sends_to(graph)
    assert set(received.values()) == {1}
    rows = await rows_of(container, arranged)
    claimed = [row for row in rows if row.status is RecipientStatus.SENDING]
    # The rows the dead worker held are the ones whose requests the fake got: none that it
    # claimed and had not sent yet.
    assert claimed and {row.address.wa_id for row in claimed} <= set(received)
    assert sum(row.status is RecipientStatus.PENDING for row in rows) == COUNT - len(received)
    # Meta accepted two of them and says so (their statuses carry the rows' trackers).
    apply: ApplyMessageStatus = container.resolve(ApplyMessageStatus)
    for index, row in enumerate(claimed[:2]):
        event = status_event("sent", external_id=f"wamid.AFTER{index}",
                             tracker=f"campaign:{row.id}")  # fmt: skip
        assert await apply.execute(event, channel) is StatusOutcome.MOVED
    graph.delay_seconds = 0.05
    second = start_worker(crash_env, tmp_path / "second.log", crash_broker)
    try:

        async def completed() -> bool:
            crash_broker.send_task(SWEEP_CAMPAIGNS_JOB)  # what beat does, every second here
            await asyncio.sleep(1.0)
            return (await run_of(container, arranged)).status is RunStatus.COMPLETED

        await wait_for(completed, "the run to complete after the restart", seconds=120)
    finally:
        stop(second)
    assert sends_to(graph) == {row.address.wa_id: 1 for row in arranged.rows}
    final = {row.id: row for row in await rows_of(container, arranged)}
    for index, row in enumerate(claimed):
        now = final[row.id]
        if index < 2:
            assert now.status is RecipientStatus.SENT and now.wamid == f"wamid.AFTER{index}"
        else:
            assert now.status is RecipientStatus.FAILED and now.error_code == "outcome_unknown"
    unknown = {row.id for row in claimed}
    assert all(
        row.status is RecipientStatus.SENT and row.wamid
        for row in final.values()
        if row.id not in unknown
    )
