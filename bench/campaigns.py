"""Campaign sends per second of one Parley worker process: a campaign of `--recipients`
(10,000) against the fake Graph API answering after `--delay` (100 ms), at a configured
1,000 messages/s and at 80/s.

    uv run --frozen python bench/campaigns.py [--recipients 10000] [--rates 1000,80]
                                              [--delay 0.1] [--in-flight 200] [--batch 200]
                                              [--slow-ms 100] [--json-out results.json]

Starts its own SecantusDB (standalone, in memory) and Redis on free ports, the tests' fake
Graph API as its own process (`python -m tests.support.fake_graph --delay 0.1`), a tenant
with a WhatsApp channel aimed at it (tier `messages_per_second` 1000) and an approved
template, then one Celery worker (`api.worker`, threads pool) as `scripts/serve` starts
it. For each rate: `--recipients` contacts, a running campaign at that rate, its run
`sending` with one pending row per contact (written through the recipient repository, as
the snapshot writes them), then the `parley.campaigns.send_run` job is queued and the
clock runs until the run reads `completed`. The figure is the steady rate: rows sent
divided by the time between the first and the last `sent_at`; the end-to-end time (queue
to completed) is printed too, with its part before the first send and its part from the
last send to the run's `finished_at`. A run with a row not `sent`, or two rows with one
wamid, is INVALID. The aims: at least 900/s at the 1,000/s limit, within 2% of 80/s at 80/s.
Everything it started is stopped on exit, Ctrl-C and errors included. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import whatsapp_stack as ws
from bson import ObjectId
from celery import Celery
from pymongo import AsyncMongoClient

from api.domain.messaging.campaigns import (
    Audience,
    Campaign,
    CampaignRecipient,
    CampaignRecipientRepository,
    CampaignRepository,
    CampaignRun,
    CampaignRunRepository,
    CampaignStatus,
    RecipientAddress,
    RunStatus,
    TemplateRef,
)
from api.domain.messaging.templates import APPROVED, Template, TemplateRepository
from api.domain.messaging.templates import TemplateVariable as Variable
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.jobs.celery_app import DEFAULT_QUEUE
from api.infrastructure.jobs.queue import TENANT_HEADER
from api.usecases.messaging.campaign_rules import SEND_RUN_JOB, SWEEP_CAMPAIGNS_JOB
from api.wiring import running
from tests.support.fake_graph import WABA_ID

TEMPLATE = "bench_offer"
SNAPSHOT_BATCH = 1000
POLL = 0.25
SWEEP_EVERY = 30.0  # CAMPAIGN_SWEEP_INTERVAL_SECONDS' default: the bench plays beat


@dataclass(frozen=True)
class Result:
    rate: int
    recipients: int
    sent: int
    steady_seconds: float
    end_to_end_seconds: float
    to_first_seconds: float = 0.0  # from the queueing to the first `sent_at`
    tail_seconds: float = 0.0  # from the last `sent_at` to the run's `finished_at`
    invalid: str = ""
    cores: dict[str, float] = field(default_factory=dict)
    first_sent: datetime | None = None

    @property
    def per_second(self) -> float:
        return self.sent / self.steady_seconds if self.steady_seconds else 0.0


async def seed_template(container: Any, seeded: ws.Seeded) -> None:
    now = datetime.now(UTC)
    with tenant_context(TenantId(seeded.tenant_id)):
        await container.resolve(TemplateRepository).add(Template(
            channel_id=seeded.channel_id, waba_id=WABA_ID, name=TEMPLATE, language="en_US",
            category="MARKETING", status=APPROVED,
            components=[{"type": "BODY", "text": "Hi {{1}}, our offer.",
                         "example": {"body_text": [["Ann"]]}}],
            variables=[Variable(component="body", index=1, example="Ann")],
            created_at=now, updated_at=now,
        ))  # fmt: skip


async def seed_contacts(mongo: AsyncMongoClient[dict[str, Any]], tenant_id: str, n: int,
                        offset: int) -> list[tuple[str, str]]:  # fmt: skip
    """`n` contacts in the shape Parley stores them, inserted in bulk: (id, phone digits)."""
    now = datetime.now(UTC)
    documents = []
    for index in range(offset, offset + n):
        digits = f"1650{index:07d}"
        documents.append({
            "_id": ObjectId(), "tenant_id": tenant_id, "name": f"Customer {index}",
            "phone": f"+{digits}", "wa_id": digits, "attributes": {}, "tags": [],
            "opted_out": False, "source": "manual", "created_at": now, "updated_at": now,
            "deleted_at": None, "channel_id": None, "bsuid": None,
        })  # fmt: skip
    await mongo[ws.DB_NAME]["contacts"].insert_many(documents)
    return [(str(d["_id"]), str(d["wa_id"])) for d in documents]


async def campaign_run(container: Any, seeded: ws.Seeded, rate: int,
                       contacts: list[tuple[str, str]]) -> tuple[str, str]:  # fmt: skip
    """A running campaign at `rate` and its run `sending` with one pending row per contact."""
    now = datetime.now(UTC)
    with tenant_context(TenantId(seeded.tenant_id)):
        campaign = await container.resolve(CampaignRepository).add(Campaign(
            name=f"Bench at {rate}/s", channel_id=seeded.channel_id,
            template=TemplateRef(name=TEMPLATE, language="en_US"), audience=Audience(all=True),
            status=CampaignStatus.RUNNING, messages_per_second=rate, created_at=now,
            updated_at=now,
        ))  # fmt: skip
        run = await container.resolve(CampaignRunRepository).create(CampaignRun(
            campaign_id=campaign.id, window=now, status=RunStatus.SENDING,
            recipients=len(contacts), started_at=now,
        ))  # fmt: skip
        recipients: CampaignRecipientRepository = container.resolve(CampaignRecipientRepository)
        for start in range(0, len(contacts), SNAPSHOT_BATCH):
            await recipients.add_snapshot([
                CampaignRecipient(
                    campaign_id=campaign.id, run_id=run.id, contact_id=contact_id,
                    address=RecipientAddress(phone=f"+{digits}", wa_id=digits),
                    variables={"body.1": f"Customer {digits}"}, seq=start + i, updated_at=now,
                )
                for i, (contact_id, digits) in enumerate(contacts[start : start + SNAPSHOT_BATCH])
            ])  # fmt: skip
    return campaign.id, run.id


async def measure(
    stack: ws.Stack, seeded: ws.Seeded, args: argparse.Namespace, worker: ws.Process
) -> list[Result]:
    settings = stack.parley_settings
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    broker = Celery("bench-campaigns", broker=settings.broker_url)
    broker.conf.update(task_serializer="json", task_default_queue=DEFAULT_QUEUE)
    meter = ws.CpuMeter(stack.groups)
    results = []
    async with running(settings) as container:
        await seed_template(container, seeded)
        for number, rate in enumerate(args.rates):
            contacts = await seed_contacts(mongo, seeded.tenant_id, args.recipients,
                                           number * args.recipients)  # fmt: skip
            _, run_id = await campaign_run(container, seeded, rate, contacts)
            ws.say(f"rate {rate}/s: {len(contacts)} rows pending; queueing send_run")
            meter.start()
            queued = time.perf_counter()
            queued_at = datetime.now(UTC)
            if args.slow_ms:
                await mongo[ws.DB_NAME].command({"profile": 1, "slowms": args.slow_ms})
            broker.send_task(SEND_RUN_JOB, kwargs={"run_id": run_id},
                             headers={TENANT_HEADER: seeded.tenant_id})  # fmt: skip
            runs = mongo[ws.DB_NAME]["campaign_runs"]
            run = None
            deadline = time.monotonic() + max(args.deadline, 3 * args.recipients / rate)
            swept = time.monotonic()
            while time.monotonic() < deadline:
                run = await runs.find_one({"_id": ObjectId(run_id)})
                if run and run["status"] != RunStatus.SENDING.value:
                    break
                worker.check_alive()
                if time.monotonic() - swept > SWEEP_EVERY:  # what beat does
                    broker.send_task(SWEEP_CAMPAIGNS_JOB)
                    swept = time.monotonic()
                await asyncio.sleep(POLL)
            end_to_end = time.perf_counter() - queued
            cores = meter.stop()
            if args.slow_ms:
                await mongo[ws.DB_NAME].command({"profile": 0})
                ws.say(await slow_commands(mongo, queued_at))
            result = await tally(mongo, run_id, rate, args.recipients, end_to_end, cores)
            to_first, tail = timeline(queued_at, result, run)
            result = replace(result, to_first_seconds=to_first, tail_seconds=tail)
            if run is None or run["status"] != RunStatus.COMPLETED.value:
                status = run["status"] if run else "gone"
                result = replace(result, invalid=f"the run is {status}, not completed")
                ws.say(f"worker log:\n{worker.log_tail(40)}")
            results.append(result)
            report(result)
    await mongo.close()
    broker.close()
    return results


async def tally(mongo: AsyncMongoClient[dict[str, Any]], run_id: str, rate: int, expected: int,
                end_to_end: float, cores: dict[str, float]) -> Result:  # fmt: skip
    rows = mongo[ws.DB_NAME]["campaign_recipients"]
    sent_at: list[datetime] = []
    wamids: set[str] = set()
    statuses: dict[str, int] = {}
    fields = {"status": 1, "sent_at": 1, "wamid": 1, "error_code": 1, "error_title": 1}
    async for row in rows.find({"run_id": run_id}, fields):
        key = row["status"]
        if key == "failed":
            key = f"failed {row.get('error_code')} ({str(row.get('error_title'))[:80]})"
        statuses[key] = statuses.get(key, 0) + 1
        if row.get("sent_at"):
            sent_at.append(row["sent_at"])
        if row.get("wamid"):
            wamids.add(row["wamid"])
    sent = statuses.get("sent", 0)
    invalid = ""
    if sent != expected:
        invalid = f"rows by status {statuses}"
    elif len(wamids) != sent:
        invalid = f"{sent - len(wamids)} duplicate wamids"
    steady = (max(sent_at) - min(sent_at)).total_seconds() if len(sent_at) > 1 else 0.0
    first = min(sent_at).replace(tzinfo=UTC) if sent_at else None
    return Result(rate, expected, sent, steady, end_to_end, invalid=invalid, cores=cores,
                  first_sent=first)  # fmt: skip


async def slow_commands(mongo: AsyncMongoClient[dict[str, Any]], since: datetime) -> str:
    """The database's commands slower than `--slow-ms` since `since` (its profiler), by
    shape (operation, collection, filter keys): how many, their milliseconds in all, and
    the first and last time one was recorded."""
    shapes: dict[tuple[str, str, str], list[Any]] = {}
    async for entry in mongo[ws.DB_NAME]["system.profile"].find({"ts": {"$gte": since}}):
        command = entry.get("command") or {}
        query = command.get("filter") or command.get("query")
        if query is None and command.get("updates"):
            query = command["updates"][0].get("q")
        keys = ",".join(sorted(query)) if isinstance(query, dict) else "-"
        shape = (str(entry.get("op")), str(entry.get("ns", "")).split(".")[-1], keys)
        at = entry["ts"].strftime("%H:%M:%S")
        seen = shapes.setdefault(shape, [0, 0, at, at])
        seen[0] += 1
        seen[1] += int(entry.get("millis") or 0)
        seen[3] = at
    lines = [f"{n:5d} x {ms:8d} ms  {first}-{last}  {op} {ns} {{{keys}}}"
             for (op, ns, keys), (n, ms, first, last)
             in sorted(shapes.items(), key=lambda item: -item[1][1])]  # fmt: skip
    return "database commands over --slow-ms, by shape:\n" + "\n".join(lines[:10])


def timeline(
    queued_at: datetime, result: Result, run: dict[str, Any] | None
) -> tuple[float, float]:
    """Where the end-to-end time went: the seconds before the first send, and from the
    last send to the run's `finished_at` (the run reads `sending` all that time); 0.0
    when there is no such time."""
    if result.first_sent is None:
        return 0.0, 0.0
    to_first = (result.first_sent - queued_at).total_seconds()
    finished = run.get("finished_at") if run else None
    if finished is None:
        return to_first, 0.0
    last_sent = result.first_sent.timestamp() + result.steady_seconds
    return to_first, finished.replace(tzinfo=UTC).timestamp() - last_sent


def report(result: Result) -> None:
    invalid = f"  INVALID: {result.invalid}" if result.invalid else ""
    ws.say(
        f"rate {result.rate}/s: {result.sent} sent, {result.per_second:.1f}/s steady "
        f"({result.steady_seconds:.2f} s first to last), end to end "
        f"{result.end_to_end_seconds:.2f} s (queued to first send {result.to_first_seconds:.2f} s, "
        f"last send to finished {result.tail_seconds:.2f} s){invalid}  "
        f"({ws.cpu_note(result.cores)})"
    )


def verdict(result: Result) -> str:
    if result.invalid:
        return f"{result.rate}/s: INVALID ({result.invalid})"
    if result.rate >= 1000:
        met = result.per_second >= 900
        aim = "aim ≥ 900/s"
    else:
        met = abs(result.per_second - result.rate) <= 0.02 * result.rate
        aim = f"aim within 2% of {result.rate}/s"
    return f"{result.rate}/s configured: {result.per_second:.1f} msg/s ({aim}): " + (
        "met" if met else "missed"
    )


def table(results: list[Result]) -> str:
    lines = [
        "| configured rate | recipients | sent | steady msg/s | first to last s | end to end s "
        "| last send to finished s | cores: worker / fake Graph / DB / Redis / other |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        cores = " / ".join(f"{r.cores.get(k, 0.0):.2f}" for k in
                           ("worker", "fake_graph", "db", "redis", "other"))  # fmt: skip
        lines.append(
            f"| {r.rate} | {r.recipients} | {r.sent} | {r.per_second:.1f} | "
            f"{r.steady_seconds:.2f} | {r.end_to_end_seconds:.2f} | {r.tail_seconds:.2f} "
            f"| {cores} |"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace, work: Path) -> list[Result]:
    with contextlib.ExitStack() as cleanup:
        stack = ws.start_stack(
            work, cleanup,
            CAMPAIGN_MAX_IN_FLIGHT=str(args.in_flight), CAMPAIGN_BATCH_SIZE=str(args.batch),
            CAMPAIGN_SLICE_SECONDS=str(args.slice), LOG_LEVEL="INFO",
            WHATSAPP_MAX_CONNECTIONS=str(max(100, args.in_flight)),
        )  # fmt: skip
        graph = ws.start_fake_graph(stack, args.delay)
        seeded = asyncio.run(ws.seed_channel(stack.parley_settings, graph.url, 1000))
        worker = ws.start_worker(stack, concurrency=2)
        ws.say(f"load average before the runs: {ws.load_average()}")
        results = asyncio.run(measure(stack, seeded, args, worker))
        worker.check_alive()
    return results


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--rates", default="1000,80", help="configured rates, comma separated")
    parser.add_argument("--delay", type=float, default=0.1, help="the fake Graph's delay (s)")
    parser.add_argument("--in-flight", type=int, default=200, help="CAMPAIGN_MAX_IN_FLIGHT")
    parser.add_argument("--batch", type=int, default=200, help="CAMPAIGN_BATCH_SIZE")
    parser.add_argument("--slice", type=float, default=60, help="CAMPAIGN_SLICE_SECONDS")
    parser.add_argument("--deadline", type=float, default=400,
                        help="seconds a run may take at least before it is INVALID")  # fmt: skip
    parser.add_argument("--slow-ms", type=int, default=0,
                        help="print the database's commands slower than this (ms)")  # fmt: skip
    parser.add_argument("--json-out", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    args.rates = [int(r) for r in str(args.rates).split(",") if r.strip()]
    if args.recipients < 1 or not args.rates or any(not 1 <= r <= 1000 for r in args.rates):
        parser.error("--recipients at least 1; --rates between 1 and 1000")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, ws.raise_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        results = run(args, Path(tmp))
    print()
    print(table(results))
    print()
    for result in results:
        print(verdict(result))
    if args.json_out:
        report_json = {
            "date": datetime.now(UTC).isoformat(),
            "config": {k: v for k, v in vars(args).items() if k != "json_out"},
            "results": [{**vars(r), "per_second": r.per_second} for r in results],
        }
        args.json_out.write_text(json.dumps(report_json, indent=1, default=str) + "\n")
    return 1 if any(r.invalid for r in results) else 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        sys.exit("bench: interrupted; everything it started has been stopped.")
