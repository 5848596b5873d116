"""WhatsApp sends per second of one Parley worker process, against a bare async batch of
the same client, both against a fake Graph API answering after 100 ms, in one run.

    uv run --frozen python bench/sends.py [--messages 400] [--rounds 3] [--concurrency 8]
                                          [--delay 0.1]

Starts its own SecantusDB (standalone, in memory) and Redis on free ports, the tests' fake
Graph API as its own process (`python -m tests.support.fake_graph --delay 0.1`), a tenant
with a WhatsApp channel aimed at it (`messages_per_second` 1000, the most a channel
takes, so that the per-number limit is not what is measured), Parley's API (one uvicorn
worker) and one Celery worker (threads pool, `--concurrency` threads, as `scripts/serve`
starts it). In alternated rounds:

- `bare_batch`: in this process, `--messages` template messages sent with
  `asyncio.gather` through Parley's gateway adapter (`ChannelGateways.for_channel`: the
  pywa client over httpx, the channel's settings and pool), at most `--concurrency` in
  flight: what the client does with nothing around it;
- `parley_worker`: the same number of template messages through the API
  (`POST /api/v1/messages` by channel and phone number, 202 `queued`; `--posters` requests
  at a time) while the worker does not consume Parley's queue (Celery's
  `cancel_consumer`), then timed from `add_consumer` until the tenant's event stream has
  said `message.updated` to `sent` for every one (waiting on the stream, not polling the
  database, which the worker needs): the worker's own rate, not the API's.

Also, once, `bare_unbounded` (informative): the whole batch at once, bounded only by the
client's pool. Prints a markdown table (medians; the ratio pairs each round's figures)
and the verdict. Everything it started is stopped on exit, Ctrl-C and errors included.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import punq
import whatsapp_stack as ws
from bson import ObjectId
from celery import Celery
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from api.domain.messaging.channels import ChannelRepository
from api.domain.messaging.content import OutboundMessage, Recipient, TemplateContent
from api.domain.messaging.gateway import ChannelGateway, ChannelGateways
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.jobs.celery_app import DEFAULT_QUEUE, create_celery
from api.infrastructure.realtime.streams import EVENT_FIELD, STREAM_PREFIX
from api.wiring import running

BARE = "bare_batch"
UNBOUNDED = "bare_unbounded"
PARLEY = "parley_worker"
GOAL_RATIO = 0.9
TEMPLATE = {"name": "order_update", "language": "en_US"}
MESSAGES = "inbox_messages"
DONE = ["sent", "delivered", "read"]


@dataclass(frozen=True)
class Sample:
    messages: int
    seconds: float
    errors: int
    note: str = ""
    cores: dict[str, float] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds


def recipient(index: int) -> str:
    return "+" + ws.customer_phone(index % 10000)


# -- the bare batch -----------------------------------------------------------------------------


async def bare_batch(gateway: ChannelGateway, count: int, limit: int) -> Sample:
    """`count` template messages at once through the gateway, at most `limit` in flight
    (0: no limit but the client's pool)."""
    gate = asyncio.Semaphore(limit if limit > 0 else count)
    errors = 0

    async def send(index: int) -> None:
        nonlocal errors
        message = OutboundMessage(
            recipient=Recipient(phone=recipient(index)), content=TemplateContent(**TEMPLATE)
        )
        async with gate:
            try:
                await gateway.send(message)
            except Exception:  # counted: any failure makes the row invalid
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(send(i) for i in range(count)))
    return Sample(count - errors, time.perf_counter() - started, errors)


async def channel_gateway(container: punq.Container, seeded: ws.Seeded) -> ChannelGateway:
    """The gateway Parley's send job uses for the bench channel (same client and pool)."""
    with tenant_context(TenantId(seeded.tenant_id)):
        channel = await container.resolve(ChannelRepository).get(seeded.channel_id)
    if channel is None:
        raise RuntimeError("the bench channel is gone")
    gateways: ChannelGateways = container.resolve(ChannelGateways)
    return gateways.for_channel(channel)


# -- Parley: the API and one worker --------------------------------------------------------------


async def sends_available(http: httpx.AsyncClient) -> bool:
    spec = (await http.get("/openapi.json")).json()
    return "post" in spec.get("paths", {}).get("/api/v1/messages", {})


@dataclass(frozen=True)
class Consumer:
    """Stops and restarts the worker's consuming of Parley's queue (Celery's remote
    control), so a round's jobs can all be queued before the worker takes any."""

    control: Celery
    node: str

    async def pause(self) -> None:
        await asyncio.to_thread(self._call, "cancel_consumer")

    async def resume(self) -> None:
        await asyncio.to_thread(self._call, "add_consumer")

    def _call(self, command: str) -> None:
        replies = getattr(self.control.control, command)(
            DEFAULT_QUEUE, destination=[self.node], reply=True, timeout=10
        )
        if not replies:
            raise RuntimeError(f"the worker did not answer {command}")


async def parley_round(
    http: httpx.AsyncClient,
    mongo: AsyncMongoClient[dict[str, Any]],
    redis: Redis,
    seeded: ws.Seeded,
    args: argparse.Namespace,
    consumer: Consumer,
    meter: ws.CpuMeter,
) -> Sample:
    """Queue `--messages` through the API while the worker does not consume, then time
    the worker from the moment it consumes again until every message is settled, as the
    tenant's event stream says (`message.updated`, what the inbox's clients see): waiting
    on the stream costs the database nothing, where polling it would compete with the
    worker for it. The database is read once at the end to check the stream's count."""
    stream = f"{STREAM_PREFIX}{seeded.tenant_id}"
    queued: set[str] = set()
    refused = 0
    gate = asyncio.Semaphore(args.posters)

    async def post(index: int) -> None:
        nonlocal refused
        body = {
            "channel_id": seeded.channel_id,
            "to": recipient(index),
            "type": "template",
            "template": TEMPLATE,
        }
        async with gate:
            answer = await http.post("/api/v1/messages", json=body)
        if answer.status_code != 202:
            refused += 1
            if refused == 1:
                ws.say(f"POST /api/v1/messages: {answer.status_code} {answer.text[:300]}")
            return
        queued.add(answer.json()["id"])

    await consumer.pause()
    posting = time.perf_counter()
    await asyncio.gather(*(post(i) for i in range(args.messages)))
    posted = time.perf_counter() - posting
    expected = len(queued)
    last: Any = await redis.xrevrange(stream, count=1)
    cursor: str = last[0][0] if last else "0-0"
    meter.start()
    await consumer.resume()
    started = time.perf_counter()
    deadline = time.monotonic() + max(120.0, args.messages / 5)
    done: set[str] = set()
    failed: set[str] = set()
    while len(done) + len(failed) < expected and time.monotonic() < deadline:
        reply: Any = await redis.xread({stream: cursor}, block=1000, count=1000)
        for _, entries in reply or []:
            for entry_id, fields in entries:
                cursor = entry_id
                data = json.loads(fields[EVENT_FIELD]).get("data", {})
                if data.get("id") in queued:
                    if data.get("status") in DONE:
                        done.add(data["id"])
                    elif data.get("status") == "failed":
                        failed.add(data["id"])
    elapsed = time.perf_counter() - started
    cores = meter.stop()
    ids = [ObjectId(i) for i in queued]
    stored = await mongo[ws.DB_NAME][MESSAGES].count_documents(
        {"_id": {"$in": ids}, "status": {"$in": DONE}}
    )
    if stored != len(done):
        ws.say(f"the stream said {len(done)} sent, the database says {stored}")
    errors = refused + len(failed) + max(0, expected - len(done) - len(failed))
    note = f"queued through the API at {expected / posted:.0f}/s before"
    return Sample(len(done), elapsed, errors, note, cores)


# -- the run ----------------------------------------------------------------------------------


def report_round(round_no: int, name: str, sample: Sample) -> None:
    note = f"  ({sample.note}; " if sample.note else "  ("
    note += ws.cpu_note(sample.cores) + ")"
    ws.say(
        f"round {round_no} {name:<15} {sample.messages:6d} sent in {sample.seconds:6.2f} s  "
        f"{sample.per_second:7.1f}/s  errors {sample.errors}{note}"
    )


async def measure(
    stack: ws.Stack,
    parley_url: str,
    worker: ws.Process,
    seeded: ws.Seeded,
    args: argparse.Namespace,
) -> dict[str, list[Sample]]:
    settings = stack.parley_settings
    meter = ws.CpuMeter(stack.groups)
    control = create_celery(settings, main="bench-control")
    consumer = Consumer(control, worker.node)
    samples: dict[str, list[Sample]] = {BARE: [], PARLEY: [], UNBOUNDED: []}
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    redis = Redis.from_url(stack.redis_url, decode_responses=True)
    async with (
        running(settings) as container,
        httpx.AsyncClient(base_url=parley_url, timeout=30) as http,
    ):
        gateway = await channel_gateway(container, seeded)
        with_parley = await sends_available(http)
        if with_parley:
            await ws.sign_in_owner(http, seeded.tenant_id)
        else:
            ws.say("this Parley has no POST /api/v1/messages: measuring the bare batch only")
        warm = max(args.concurrency * 2, 20)
        await bare_batch(gateway, warm, args.concurrency)
        if with_parley:
            warm_args = argparse.Namespace(**{**vars(args), "messages": warm})
            await parley_round(http, mongo, redis, seeded, warm_args, consumer, meter)
        for round_no in range(1, args.rounds + 1):
            meter.start()
            bare = await bare_batch(gateway, args.messages, args.concurrency)
            bare = replace(bare, cores=meter.stop())
            samples[BARE].append(bare)
            report_round(round_no, BARE, bare)
            if with_parley:
                parley = await parley_round(http, mongo, redis, seeded, args, consumer, meter)
                samples[PARLEY].append(parley)
                report_round(round_no, PARLEY, parley)
        meter.start()
        unbounded = await bare_batch(gateway, args.messages, 0)
        unbounded = replace(unbounded, cores=meter.stop())
        samples[UNBOUNDED].append(unbounded)
        report_round(1, UNBOUNDED, unbounded)
    await mongo.close()
    await redis.aclose()
    control.close()
    return samples


def summarise(samples: list[Sample], base: list[Sample]) -> dict[str, Any]:
    pairs = zip(samples, base, strict=False)
    return {
        "per_second": statistics.median(s.per_second for s in samples),
        "errors": sum(s.errors for s in samples),
        "ratio": statistics.median(s.per_second / b.per_second for s, b in pairs),
        "cores": {
            k: statistics.median(s.cores.get(k, 0.0) for s in samples) for k in samples[0].cores
        },
        "rounds": [{**vars(s), "per_second": s.per_second} for s in samples],
    }


def run(args: argparse.Namespace, work: Path) -> dict[str, dict[str, Any]]:
    with contextlib.ExitStack() as cleanup:
        # The per-channel cap on sends in flight (SEND_CHANNEL_MAX_IN_FLIGHT, 4 by default:
        # a hung provider holds at most that many threads) is set to the concurrency, so
        # the worker may have as many sends in flight as the bare batch it is compared with.
        cap = str(args.concurrency)
        stack = ws.start_stack(work, cleanup, SEND_CHANNEL_MAX_IN_FLIGHT=cap)
        graph = ws.start_fake_graph(stack, args.delay)
        seeded = asyncio.run(ws.seed_channel(stack.parley_settings, graph.url, 1000))
        parley = ws.start_parley(stack)
        ws.say(f"starting one worker (threads pool, concurrency {args.concurrency})")
        worker = ws.start_worker(stack, concurrency=args.concurrency)
        ws.say(f"load average before the rounds: {ws.load_average()}")
        samples = asyncio.run(measure(stack, parley.url, worker, seeded, args))
        worker.check_alive()
    return {name: summarise(rounds, samples[BARE]) for name, rounds in samples.items() if rounds}


def table(rows: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"| target | sends/s (median of {args.rounds}) | errors | ratio to bare_batch "
        "| cores: bench / worker / API / fake Graph / DB / other |",
        "|---|---:|---:|---:|---|",
    ]
    for name, row in rows.items():
        errors = f"{row['errors']} INVALID" if row["errors"] else "0"
        cores = row["cores"]
        used = " / ".join(
            f"{cores[k]:.2f}" if k in cores else "-"
            for k in ("bench", "worker", "parley", "fake_graph", "db", "other")
        )
        lines.append(
            f"| {name} | {row['per_second']:.1f} | {errors} | {row['ratio']:.2f} | {used} |"
        )
    return "\n".join(lines)


def verdict(rows: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    if PARLEY not in rows:
        return "parley_worker: not measured (this Parley has no POST /api/v1/messages)"
    row = rows[PARLEY]
    met = row["ratio"] >= GOAL_RATIO
    outcome = "INVALID (errors)" if row["errors"] else ("goal met" if met else "goal missed")
    return (
        f"one worker process ({args.concurrency} threads), fake Graph answering after "
        f"{args.delay * 1000:.0f} ms: {row['per_second']:.1f} sends/s, {row['ratio']:.2f} of the "
        f"bare batch at the same concurrency (goal ≥ {GOAL_RATIO:g}): {outcome}"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=400, help="messages per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds")
    parser.add_argument("--concurrency", type=int, default=8, help="the worker's threads, and "
                        "the bare batch's sends in flight")  # fmt: skip
    parser.add_argument("--posters", type=int, default=16, help="POSTs in flight to the API")
    parser.add_argument("--delay", type=float, default=0.1, help="the fake Graph's delay (s)")
    parser.add_argument("--json-out", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    for name in ("messages", "rounds", "concurrency", "posters"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, ws.raise_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        rows = run(args, Path(tmp))
    print()
    print(table(rows, args))
    print()
    print(verdict(rows, args))
    if args.json_out:
        config = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        report = {"date": datetime.now(UTC).isoformat(), "config": config, "results": rows}
        args.json_out.write_text(json.dumps(report, indent=1) + "\n")
    return 1 if any(row["errors"] for row in rows.values()) else 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        sys.exit("bench: interrupted; everything it started has been stopped.")
