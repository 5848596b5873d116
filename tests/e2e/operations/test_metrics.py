"""GET /metrics end to end: request counters by route template, the token, open SSE streams
(real uvicorn, the fake LLM), job outcomes from the real worker, queue depths on the broker."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from celery import Celery
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from api.config import Environment, JobSettings, MetricsSettings, Settings
from api.domain.jobs import JobQueue
from tests.support.ai_stack import StackMaker, ai_stack, ask_stream, eventually, next_event
from tests.support.app import AppClient, assert_problem, serve
from tests.support.database import create_tenant
from tests.support.fake_llm import FakeLLM, serve_fake_llm
from tests.support.onboarding import onboard, owner_headers
from tests.support.settings import make_settings, redis_db

TOKEN = "metrics-token-0123456789-abcdefghijklmnop"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def with_metrics(settings: Settings, **metrics: Any) -> Settings:
    fields = {"metrics_token": TOKEN, **metrics}
    return settings.model_copy(update={"metrics": MetricsSettings(_env_file=None, **fields)})


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


@pytest.fixture
def metrics_settings(mongo_url: str, redis_url: str, db_name: str) -> Settings:
    return with_metrics(make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0))


@pytest.fixture
async def http(metrics_settings: Settings) -> AsyncIterator[AppClient]:
    async with serve(metrics_settings) as client:
        yield client


# -- Requests ---------------------------------------------------------------------------


async def test_requests_are_counted_by_route_template(http: AppClient) -> None:
    acme = await onboard(http, "acme")
    headers = await owner_headers(http, acme)
    user_id = acme.owner.id or ""
    assert (await http.get(f"/api/v1/users/{user_id}", headers=headers)).status_code == 200
    assert (await http.get(f"/no/such/{user_id}")).status_code == 404
    unknown = {"X-Tenant-ID": "0123456789abcdef01234567"}
    assert (await http.get(f"/api/v1/users/{user_id}", headers=unknown)).status_code == 404

    response = await http.get("/metrics", headers=BEARER)
    assert user_id not in response.text  # never a raw path as a label
    samples = parse(response.text)
    route = "/api/v1/users/{user_id}"
    ok = {"method": "GET", "route": route, "status": "200"}
    assert value(samples, "http_requests_total", **ok) == 1
    assert value(samples, "http_requests_total", **(ok | {"status": "404"})) == 1  # tenant refused
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(samples, "http_requests_total", **unmatched) == 1
    count = value(samples, "http_request_duration_seconds_count", method="GET", route=route)
    assert count == 2
    assert value(samples, "process_cpu_seconds_total") is not None


async def test_unknown_methods_share_one_label(http: AppClient) -> None:
    await http.request("BREW", "/health")
    samples = await scrape(http)
    labels = {"method": "OTHER", "route": "/health", "status": "405"}
    assert value(samples, "http_requests_total", **labels) == 1


# -- Who may read it --------------------------------------------------------------------


async def test_a_scrape_needs_the_token(http: AppClient) -> None:
    assert_problem(await http.get("/metrics"), 401, "unauthorized")
    wrong = {"Authorization": f"Bearer {TOKEN[:-1]}x"}
    refused = await http.get("/metrics", headers=wrong)
    assert_problem(refused, 401, "unauthorized")
    assert refused.headers["www-authenticate"] == "Bearer"
    no_scheme = {"Authorization": TOKEN}
    assert_problem(await http.get("/metrics", headers=no_scheme), 401, "unauthorized")
    basic = {"Authorization": "Basic bWV0cmljczpzZWNyZXQ="}
    assert_problem(await http.get("/metrics", headers=basic), 401, "unauthorized")
    assert (await http.get("/metrics", headers=BEARER)).status_code == 200


async def test_a_user_token_is_not_a_metrics_token(http: AppClient) -> None:
    acme = await onboard(http, "acme")
    headers = await owner_headers(http, acme)
    assert_problem(await http.get("/metrics", headers=headers), 401, "unauthorized")
    tenant_only = {"Authorization": headers["Authorization"]}
    assert_problem(await http.get("/metrics", headers=tenant_only), 401, "unauthorized")


async def test_metrics_are_not_in_the_openapi_schema(http: AppClient) -> None:
    paths = (await http.get("/openapi.json")).json()["paths"]
    assert "/metrics" not in paths


async def test_without_a_token_development_serves_metrics_openly(
    mongo_url: str, redis_url: str, db_name: str
) -> None:
    async with serve(make_settings(mongo_url, redis_url, db_name)) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert "http_requests_total" in response.text


async def test_without_a_token_production_does_not_serve_metrics(
    mongo_url: str, redis_url: str, db_name: str
) -> None:
    settings = make_settings(mongo_url, redis_url, db_name)
    production = settings.model_copy(update={"environment": Environment.PRODUCTION})
    async with serve(production) as client:
        assert_problem(await client.get("/metrics"), 404, "not_found")
        assert_problem(await client.get("/metrics", headers=BEARER), 404, "not_found")


# -- Open streams -----------------------------------------------------------------------


async def test_open_sse_streams_are_gauged(mongo_url: str, redis_url: str, db_name: str) -> None:
    fake = FakeLLM()
    async with serve_fake_llm(fake) as llm_url:
        settings = with_metrics(StackMaker(mongo_url, redis_url, db_name).settings(llm_url))
        async with ai_stack(settings, fake, llm_url) as stack:
            owner = await stack.tenant("acme")

            async def open_streams() -> float:
                samples = await scrape(stack.http)
                return value(samples, "parley_sse_streams_open", route="/api/v1/ai/ask") or 0.0

            before = await open_streams()
            fake.hold, fake.hold_after = asyncio.Event(), 1
            async with ask_stream(stack.http, owner, {"message": "Say hello"}) as events:
                assert (await next_event(events))[0] == "meta"
                assert (await next_event(events))[0] == "token"
                assert await open_streams() == before + 1  # held mid-answer: open
                fake.hold.set()
                rest = [name async for name, _ in events]
            assert rest[-1] == "done"

            async def closed() -> bool:
                return await open_streams() == before

            await eventually(closed, timeout=10)
            samples = await scrape(stack.http)
            done = {"method": "POST", "route": "/api/v1/ai/ask", "status": "200"}
            assert value(samples, "http_requests_total", **done) == 1


# -- Jobs -------------------------------------------------------------------------------


async def jobs_run(http: httpx.AsyncClient, task: str, outcome: str, at_least: int) -> Samples:
    """Poll /metrics until the workers counted `at_least` runs of `task` with `outcome`
    (the count is written just after the job's result)."""
    deadline = time.monotonic() + 30
    while True:
        samples = await scrape(http)
        if (value(samples, "parley_jobs_total", task=task, outcome=outcome) or 0) >= at_least:
            return samples
        assert time.monotonic() < deadline, f"{task} {outcome} not counted"
        await asyncio.sleep(0.1)


async def test_job_runs_are_counted_by_task_and_outcome(
    worker: Path, celery_client: Celery, http: AppClient
) -> None:
    queue = http.container.resolve(JobQueue)
    job_id = await queue.enqueue("parley.ping", echo="counted")
    result = await asyncio.to_thread(celery_client.AsyncResult(job_id).get, timeout=30)
    assert result["echo"] == "counted"
    samples = await jobs_run(http, "parley.ping", "succeeded", 1)
    assert value(samples, "parley_metrics_source_up", source="jobs") == 1

    # An argument the task does not take: a permanent failure, counted as failed.
    failing = celery_client.send_task("parley.ping", kwargs={"unexpected": 1})
    with pytest.raises(TypeError):
        await asyncio.to_thread(failing.get, timeout=30)
    samples = await jobs_run(http, "parley.ping", "failed", 1)
    assert value(samples, "parley_jobs_total", task="parley.ping", outcome="succeeded") == 1


async def test_queue_depth_is_read_from_the_broker(
    metrics_settings: Settings, redis_url: str, redis_client: Redis
) -> None:
    """A broker database of its own (db 5 of the tests' Redis), with no worker on it: what
    is queued stays queued."""
    broker = redis_db(redis_url, 5)
    jobs = JobSettings(_env_file=None, celery_broker_url=broker, celery_result_backend=broker)
    settings = metrics_settings.model_copy(update={"jobs": jobs})
    lonely = Redis.from_url(broker)
    try:
        await lonely.flushdb()
        async with serve(settings) as client:
            assert value(await scrape(client), "parley_queue_depth", queue="parley") == 0
            queue = client.container.resolve(JobQueue)
            for echo in ("one", "two"):
                await queue.enqueue("parley.ping", echo=echo)
            samples = await scrape(client)
        assert value(samples, "parley_queue_depth", queue="parley") == 2
        assert value(samples, "parley_metrics_source_up", source="queues") == 1
    finally:
        await lonely.flushdb()
        await lonely.aclose()


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A TCP server that accepts connections and never answers (a stuck Redis)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_stuck_broker_does_not_hold_the_scrape(
    mongo_url: str, redis_url: str, db_name: str
) -> None:
    """The Redis clients would wait 30 s for an answer; the scrape waits its own 0.5 s."""
    async with silent_server() as port:
        broker = f"redis://127.0.0.1:{port}/0"
        settings = with_metrics(
            make_settings(mongo_url, redis_url, db_name), metrics_read_timeout_seconds=0.5
        )
        jobs = JobSettings(_env_file=None, celery_broker_url=broker, celery_result_backend=broker)
        patient = settings.redis.model_copy(update={"socket_timeout_seconds": 30.0})
        async with serve(settings.model_copy(update={"jobs": jobs, "redis": patient})) as client:
            started = time.monotonic()
            samples = await scrape(client)
            elapsed = time.monotonic() - started
    assert elapsed < 15  # far below the clients' 30 s: the scrape's deadline ended the wait
    assert value(samples, "parley_metrics_source_up", source="queues") == 0
    assert value(samples, "parley_metrics_source_up", source="jobs") == 1
    assert not any(name == "parley_queue_depth" for name, _ in samples)


async def test_a_tenant_header_does_not_change_what_a_scrape_sees(http: AppClient) -> None:
    acme = await create_tenant("acme")
    response = await http.get("/metrics", headers=BEARER | {"X-Tenant-ID": acme.id or ""})
    assert response.status_code == 200
    assert "http_requests_total" in response.text
