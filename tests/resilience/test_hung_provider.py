"""A hung provider never blocks other tenants: tenant A's Graph API takes every send and
never answers, while tenant B's sends, through the same worker, reach its Graph API
within seconds.

A real Celery worker (threads pool) on brokers of this test's own; each tenant's channel
points at a fake Graph of its own. A queues more sends than the worker has threads, then
B sends a few; how long B's take is printed (`-s`) and bounded. Without the per-channel
cap (`SEND_CHANNEL_MAX_IN_FLIGHT`) every thread waited on A's provider and none of B's
sends had left after 20 s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from celery import Celery

from tests.support.app import AppClient
from tests.support.fake_graph import FakeGraph, serve_fake_graph
from tests.support.inbox import stored_channel
from tests.support.onboarding import onboard, owner_headers
from tests.support.own_jobs import OwnJobs, OwnJobsOf
from tests.support.sending import customer_wrote, queued

pytestmark = pytest.mark.resilience

OWN_JOBS = OwnJobsOf(broker=12, results=13, prefix="hung")
THREADS = 4
CAP = 2  # SEND_CHANNEL_MAX_IN_FLIGHT: below the worker's threads, as the README says
HUNG_SENDS = 3 * THREADS
B_SENDS = 3
B_DEADLINE = 20.0  # seconds for B's sends while A's provider hangs (a send takes ms)


@pytest.fixture
def worker(own_jobs: OwnJobs, own_control: Celery, tmp_path: Path) -> Iterator[None]:
    env = own_jobs.worker_env(
        WHATSAPP_ALLOWED_GRAPH_BASE_URLS="*", SEND_CHANNEL_MAX_IN_FLIGHT=str(CAP)
    )
    with own_jobs.worker(env, tmp_path / "worker.log", own_control, "hung@%h", THREADS):
        yield


@pytest.fixture
async def graphs() -> AsyncIterator[tuple[FakeGraph, FakeGraph]]:
    hung, fine = FakeGraph(delay_seconds=3600), FakeGraph()
    async with serve_fake_graph(hung), serve_fake_graph(fine):
        yield hung, fine


async def test_a_hung_graph_api_of_one_tenant_never_holds_up_another_tenants_sends(
    own_app: AppClient, worker: None, graphs: tuple[FakeGraph, FakeGraph]
) -> None:
    app = own_app
    hung, fine = graphs
    sides = []
    for subdomain, graph, number in (("acme", hung, "1001"), ("beta", fine, "2002")):
        tenant = await onboard(app, subdomain)
        channel = await stored_channel(app.container, tenant.tenant.id or "", graph.base_url,
                                       phone_number_id=number)  # fmt: skip
        wrote = await customer_wrote(app.container, channel)
        sides.append((await owner_headers(app, tenant), wrote.conversation_id))
    (a_headers, a_conversation), (b_headers, b_conversation) = sides

    def text(n: int, who: str) -> dict[str, object]:
        return {"type": "text", "text": {"body": f"{who} {n}"}}

    for n in range(HUNG_SENDS):
        await queued(app, a_headers, {"conversation_id": a_conversation, **text(n, "a")})
    deadline = time.monotonic() + 30
    while hung.in_flight < CAP:  # as many of A's sends as its channel may have hang
        assert time.monotonic() < deadline, f"A's sends did not start: {hung.in_flight}"
        await asyncio.sleep(0.05)

    started = time.monotonic()
    for n in range(B_SENDS):
        await queued(app, b_headers, {"conversation_id": b_conversation, **text(n, "b")})
    while fine.calls("send") < B_SENDS:
        waited = time.monotonic() - started
        assert waited < B_DEADLINE, (
            f"B's sends held up by A's hung provider: {fine.calls('send')} of {B_SENDS} "
            f"after {waited:.1f} s ({hung.in_flight} of A's in flight)"
        )
        await asyncio.sleep(0.05)
    assert hung.in_flight == CAP  # the rest of A's sends wait, holding no thread
    print(f"B's {B_SENDS} sends reached Meta {time.monotonic() - started:.2f} s after queuing, "
          f"with {hung.in_flight} of A's sends hung")  # fmt: skip
