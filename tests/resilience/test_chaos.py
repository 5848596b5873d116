"""Redis and the Mongo-wire server killed (SIGKILL) and restarted under mixed load.

The load runs over real TCP against Parley under uvicorn, with a real Celery worker, a
fake Graph API and a fake LLM: contacts written and read, customer messages arriving as
signed webhooks, agents' messages sent, AI answers streamed (SSE). Then Redis is killed
and restarted, then the database is. What must hold, without restarting Parley or its
worker:

- every answer is a success or a 503 problem with `Retry-After`: no other error;
- every stream that started ends: with its `done` event, an `error` event, or the
  connection closed, never a hang; once the servers are back, new streams answer in full;
- every write the API acknowledged (201 contact, 200 webhook delivery, 202 message) is
  there afterwards: the contact stored, the customer's message in the inbox once, the
  agent's message sent;
- no job effect is repeated: each customer message stored once, each agent message
  reaching Meta once. The one exception the design admits (README, "Sending"): a send
  Meta accepted while the database was down, whose id could not be stored, is sent again
  once its claim runs out; such a message may reach Meta twice, and only if Meta took it
  while the database was down.

Run on demand (`scripts/test -m resilience`): it takes a few minutes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import devservers
import httpx
import pytest
from httpx_sse import aconnect_sse
from pymongo import AsyncMongoClient

from api.config import AiSettings, JobSettings, Settings
from api.domain.clock import Clock
from api.domain.identity.auth import SecretBox
from api.domain.jobs import JobQueue
from api.domain.messaging.channels import Channel, ChannelRepository, SecretName
from api.domain.messaging.messages import MessageRepository
from api.domain.messaging.outbound import StaleOutbound
from api.domain.messaging.webhooks import WebhookEventStore
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.sending_rules import SendPolicy
from api.usecases.messaging.sweep_outbound import SweepOutboundMessages
from api.usecases.messaging.sweep_webhooks import SweepWebhookEvents
from api.usecases.messaging.webhook_rules import WebhookPolicy
from tests.support.ai_stack import OLLAMA_MODEL
from tests.support.app import AppClient, serve_over_tcp
from tests.support.channels import whatsapp_channel
from tests.support.fake_graph import FakeGraph, serve_fake_graph
from tests.support.fake_llm import FakeLLM, serve_fake_llm
from tests.support.onboarding import onboard, owner_headers
from tests.support.sending import customer_wrote
from tests.support.settings import make_settings, redis_db
from tests.support.webhook_calls import signed
from tests.support.workers import start_celery, stop, worker_env

pytestmark = pytest.mark.resilience

DB = "chaos"
APP_SECRET = "chaos-app-secret-0123456789"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "whatsapp" / "text.json"
OK = {200, 201, 202}
OUTAGE_SECONDS = 4.0
CONVERGE_SECONDS = 300.0
STREAM_TOKENS = [f" t{n}" for n in range(20)]  # 20 tokens 0.1 s apart: 2 s in flight
STREAM_SECONDS = 30.0  # a stream that has not ended by then hangs


@dataclass
class Ledger:
    """What the load saw: every answer, and what was acknowledged."""

    answers: list[tuple[str, int, bool]] = field(default_factory=list)  # what, status, R-A
    contacts: list[str] = field(default_factory=list)
    deliveries: list[str] = field(default_factory=list)  # wamids of 200 deliveries
    sends: dict[str, str] = field(default_factory=dict)  # message id -> its text
    streams: list[str] = field(default_factory=list)  # how each started stream ended

    def note(self, what: str, response: httpx.Response) -> None:
        self.answers.append((what, response.status_code, "retry-after" in response.headers))

    def refusals(self) -> list[tuple[str, int, bool]]:
        return [a for a in self.answers if a[1] not in OK and not (a[1] == 503 and a[2])]


@dataclass
class Servers:
    mongo: devservers.ServerProcess
    redis: devservers.ServerProcess
    mongo_dir: Path
    redis_dir: Path

    def restart_redis(self) -> None:
        self.redis = devservers.start_redis(port=self.redis.port, data_dir=str(self.redis_dir))

    def restart_mongo(self) -> None:
        self.mongo = devservers.start_mongo(
            port=self.mongo.port, storage_path=str(self.mongo_dir), sync_on_commit=True
        )


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """A database and a Redis of this test's own, on disk like production's."""
    mongo_dir, redis_dir = tmp_path / "mongo", tmp_path / "redis"
    redis_dir.mkdir()
    own = Servers(
        devservers.start_mongo(storage_path=str(mongo_dir), sync_on_commit=True),
        devservers.start_redis(data_dir=str(redis_dir)),
        mongo_dir,
        redis_dir,
    )
    try:
        yield own
    finally:
        own.redis.stop()
        own.mongo.stop()


def chaos_settings(servers: Servers, llm_url: str) -> Settings:
    base = make_settings(servers.mongo.url, servers.redis.url, DB, tenant_cache_ttl_seconds=0)
    return base.model_copy(
        update={
            "mongo": base.mongo.model_copy(update={"write_journal": True}),
            "ai": AiSettings(_env_file=None, ollama_host=llm_url, ai_models_cache_seconds=0),
            "jobs": JobSettings(
                _env_file=None,
                celery_broker_url=redis_db(servers.redis.url, 1),
                celery_result_backend=redis_db(servers.redis.url, 2),
            ),
        }
    )


@pytest.fixture
def worker(servers: Servers, tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "worker.log"
    env = {
        **worker_env(servers.mongo.url, servers.redis.url, DB, smtp_port=1),
        "MONGO_WRITE_JOURNAL": "true",
        "WHATSAPP_ALLOWED_GRAPH_BASE_URLS": "*",
        # Short leases, so what a run left held when a server died is taken over within
        # the convergence window: a webhook item's lease is the job time limit + 30 s (at
        # least), a send's the rate wait + the Graph timeout + 60 s.
        "JOB_TIME_LIMIT_SECONDS": "20",
        "JOB_SOFT_TIME_LIMIT_SECONDS": "18",
        "WEBHOOK_ITEM_LEASE_SECONDS": "10",
        "SEND_RATE_MAX_WAIT_SECONDS": "5",
        "WHATSAPP_TIMEOUT_SECONDS": "5",
    }
    command = ["worker", "--pool=threads", "--concurrency=4", "--loglevel=INFO", "-n", "chaos@%h"]
    process = start_celery(command, env, log)
    try:
        yield log
    finally:
        stop(process)


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    fake = FakeGraph()
    async with serve_fake_graph(fake):
        yield fake


@pytest.fixture
async def llm() -> AsyncIterator[str]:
    fake = FakeLLM(token_delay=0.1, record_requests=False)
    fake.ollama_models = {OLLAMA_MODEL: STREAM_TOKENS}
    async with serve_fake_llm(fake) as url:
        yield url


async def stream(http: httpx.AsyncClient, headers: dict[str, str], ledger: Ledger) -> str:
    """One AI answer over SSE: noted like any answer when refused; else how it ended
    (`done`, `error`, `closed` without either), `hung` past `STREAM_SECONDS`."""

    async def read() -> str:
        body = {"message": "Tell me a story", "model": OLLAMA_MODEL}
        async with aconnect_sse(http, "POST", "/api/v1/ai/ask", json=body,
                                headers=headers) as source:  # fmt: skip
            ledger.note("stream", source.response)
            if source.response.status_code != 200:
                await source.response.aread()
                return "refused"
            ended = "closed"
            try:
                async for sse in source.aiter_sse():
                    if sse.event in ("done", "error"):
                        ended = sse.event
            except httpx.TransportError:
                pass  # the connection closed mid-event: ended all the same
            return ended

    try:
        return await asyncio.wait_for(read(), STREAM_SECONDS)
    except TimeoutError:
        return "hung"


def delivery(wamid: str, text: str) -> bytes:
    payload: dict[str, Any] = json.loads(FIXTURE.read_text())
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["id"], message["text"]["body"], message["timestamp"] = (
        wamid,
        text,
        str(int(time.time())),
    )
    return json.dumps(payload).encode()


async def load(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    channel: Channel,
    conversation_id: str,
    ledger: Ledger,
    stop_load: asyncio.Event,
) -> None:
    """Four clients, each one request after another until told to stop."""

    async def writer() -> None:
        n = 0
        while not stop_load.is_set():
            n += 1
            answer = await http.post(
                "/api/v1/contacts", json={"phone": f"+4917{n:08d}", "name": f"C{n}"},
                headers=headers,
            )  # fmt: skip
            ledger.note("contact", answer)
            if answer.status_code == 201:
                ledger.contacts.append(answer.json()["id"])

    async def reader() -> None:
        while not stop_load.is_set():
            ledger.note("read", await http.get("/api/v1/contacts", headers=headers))
            await asyncio.sleep(0.02)

    async def customer() -> None:
        n = 0
        while not stop_load.is_set():
            n += 1
            wamid = f"wamid.CHAOS{n:06d}"
            body = delivery(wamid, f"customer {n}")
            answer = await http.post(
                f"/api/v1/webhooks/whatsapp/{channel.id}",
                content=body, headers=signed(body, APP_SECRET),
            )  # fmt: skip
            ledger.note("webhook", answer)
            if answer.status_code == 200:
                ledger.deliveries.append(wamid)
            await asyncio.sleep(0.05)

    async def agent() -> None:
        n = 0
        while not stop_load.is_set():
            n += 1
            text = f"agent reply {n}"
            answer = await http.post(
                "/api/v1/messages",
                json={"conversation_id": conversation_id, "type": "text", "text": {"body": text}},
                headers=headers,
            )  # fmt: skip
            ledger.note("send", answer)
            if answer.status_code == 202:
                ledger.sends[answer.json()["id"]] = text
            await asyncio.sleep(0.05)

    async def streamer() -> None:
        while not stop_load.is_set():
            ended = await stream(http, headers, ledger)
            if ended != "refused":
                ledger.streams.append(ended)
            await asyncio.sleep(0.05)

    await asyncio.gather(writer(), reader(), customer(), agent(), streamer(), streamer())


async def healthy(http: httpx.AsyncClient, path: str) -> None:
    deadline = time.monotonic() + 60
    while (await http.get(path)).status_code != 200:
        assert time.monotonic() < deadline, f"{path} did not recover"
        await asyncio.sleep(0.2)


async def sweep_now(app: AppClient) -> None:
    """What beat's sweeps do, without their waits: re-queue lost send and webhook jobs."""
    c = app.container
    policy: SendPolicy = c.resolve(SendPolicy)
    await SweepOutboundMessages(
        c.resolve(StaleOutbound), c.resolve(MessageRepository), c.resolve(JobQueue),
        c.resolve(Clock), replace(policy, sweep_after_seconds=0, sweep_max_requeues=100),
    ).execute()  # fmt: skip
    hooks: WebhookPolicy = c.resolve(WebhookPolicy)
    await SweepWebhookEvents(
        c.resolve(WebhookEventStore), c.resolve(JobQueue), replace(hooks, sweep_after_seconds=0)
    ).execute()


def reached_twice(graph: FakeGraph) -> list[bool]:
    texts = Counter(s.body["text"]["body"] for s in graph.requests if s.endpoint == "send")
    return [n > 1 for n in texts.values()]


async def test_servers_killed_under_load_lose_nothing_and_repeat_nothing(
    servers: Servers, worker: Path, graph: FakeGraph, llm: str
) -> None:
    settings = chaos_settings(servers, llm)
    async with serve_over_tcp(settings) as (app, http):
        acme = await onboard(app, "acme")
        tenant_id = acme.tenant.id or ""
        owner = await owner_headers(app, acme)
        box: SecretBox = app.container.resolve(SecretBox)
        channel = whatsapp_channel(box, graph.base_url, channel_id=None)
        channel = channel.model_copy(
            update={
                "secrets": channel.secrets.with_secret(
                    SecretName.APP_SECRET, box.encrypt(APP_SECRET)
                )
            }
        )
        with tenant_context(TenantId(tenant_id)):
            channel = await app.container.resolve(ChannelRepository).add(channel)
        wrote = await customer_wrote(app.container, channel)

        ledger, stop_load = Ledger(), asyncio.Event()
        traffic = asyncio.create_task(
            load(http, owner, channel, wrote.conversation_id, ledger, stop_load)
        )
        await asyncio.sleep(OUTAGE_SECONDS)
        servers.redis.kill()
        await asyncio.sleep(OUTAGE_SECONDS)
        servers.restart_redis()
        await healthy(http, "/health/cache")
        await asyncio.sleep(OUTAGE_SECONDS)
        mongo_down = time.monotonic()
        servers.mongo.kill()
        await asyncio.sleep(OUTAGE_SECONDS)
        servers.restart_mongo()
        mongo_up = time.monotonic()
        await healthy(http, "/health/db")
        await asyncio.sleep(OUTAGE_SECONDS)
        stop_load.set()
        await asyncio.wait_for(traffic, timeout=60)
        after = [await stream(http, owner, ledger) for _ in range(3)]  # new streams, in full

        # Converge: the worker settles what was acknowledged (the sweeps re-queue lost jobs).
        raw: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(servers.mongo.url)
        messages = raw[DB]["inbox_messages"]
        deadline = time.monotonic() + CONVERGE_SECONDS
        while True:
            sent = {
                str(row["_id"])
                async for row in messages.find(
                    {"direction": "outbound", "status": {"$ne": "queued"}}, {"_id": 1}
                )
            }
            stored = Counter(
                [row["external_id"] async for row in messages.find(
                    {"direction": "inbound", "external_id": {"$in": ledger.deliveries}},
                    {"external_id": 1},
                )]
            )  # fmt: skip
            if set(ledger.sends) <= sent and set(ledger.deliveries) <= set(stored):
                break
            assert time.monotonic() < deadline, (
                f"not settled: {len(set(ledger.sends) - sent)} sends, "
                f"{len(set(ledger.deliveries) - set(stored))} deliveries"
            )
            await sweep_now(app)
            await asyncio.sleep(2)
        contacts = {str(row["_id"]) async for row in raw[DB]["contacts"].find({}, {"_id": 1})}
        await raw.close()

    statuses = Counter(status for _, status, _ in ledger.answers)
    print(  # shown with -s: what the run went through
        f"answers {dict(statuses)}; acknowledged: {len(ledger.contacts)} contacts, "
        f"{len(ledger.deliveries)} deliveries, {len(ledger.sends)} sends; "
        f"sent twice: {sum(1 for t in reached_twice(graph) if t)}; "
        f"streams {dict(Counter(ledger.streams))}"
    )
    assert after == ["done"] * 3
    assert "hung" not in ledger.streams
    assert ledger.streams.count("done") >= 4  # streams ran between the outages too
    assert ledger.refusals() == []
    assert statuses[503] > 0, "the outages were not seen: the test proves nothing"
    assert min(len(ledger.contacts), len(ledger.deliveries), len(ledger.sends)) > 10
    assert [c for c in ledger.contacts if c not in contacts] == []  # nothing acknowledged lost
    assert [w for w, n in stored.items() if n != 1] == []  # each customer message once
    reached: dict[str, list[float]] = {}
    for seen in graph.requests:
        if seen.endpoint == "send":
            reached.setdefault(seen.body["text"]["body"], []).append(seen.at)
    for message_id, text in ledger.sends.items():
        times = reached.get(text, [])
        assert times, f"{message_id} never reached Meta"
        if len(times) > 1:  # only a send Meta took while the database was down
            assert len(times) == 2 and mongo_down - 1 <= times[0] <= mongo_up, (text, times)
