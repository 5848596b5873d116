"""Signed WhatsApp status webhooks acknowledged per second by Parley, against the raw
insert rate of the same database, measured in one run.

    uv run --frozen python bench/webhook_ingest.py [--duration 10] [--runs 3]
                                                   [--connections 32] [--worker]

Starts its own SecantusDB (standalone, in memory) and Redis on free ports, a tenant with
a WhatsApp channel (app secret known to the bench) and Parley's API (one uvicorn worker).
In interleaved rounds it measures:

- `raw_insert`: `insert_one` of a document the size and shape of a stored delivery
  (`webhook_events`), from this process with pymongo's `AsyncMongoClient`, as many
  concurrent inserts as wrk has connections: what the database takes;
- `parley_ingest`: wrk POSTing signed status webhooks (Meta's shape, a unique wamid per
  request, `X-Hub-Signature-256` computed in wrk's LuaJIT through libcrypto's HMAC) to
  `/api/v1/webhooks/whatsapp/{channel_id}`: check, store raw, queue the job, answer 200.

No Celery worker runs during those rounds (the jobs pile up in the broker). With
`--worker`, the broker is emptied, one worker is started (threads pool, like
`scripts/serve`) and more rounds measure `parley_ingest_worker`, the same load while the
worker processes what comes in. Prints a markdown table (medians, ratios to the raw insert
rate of the same round) and the verdict. Everything it started is stopped on exit, Ctrl-C
and errors included. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import whatsapp_stack as ws
from bson import Binary
from pymongo import AsyncMongoClient, MongoClient
from redis import Redis
from tenant_read import ensure_wrk

from api.infrastructure.jobs.celery_app import DEFAULT_QUEUE

RAW = "raw_insert"
INGEST = "parley_ingest"
INGEST_WORKER = "parley_ingest_worker"
GOAL_RATIO = 0.50
GOAL_P99_MS = 250.0
STATES = ("sent", "delivered", "read")
PLACEHOLDER = "@@WAMID@@"

# wrk's Lua: a unique wamid per request (run prefix from the command line, thread number,
# counter) spliced into one of the status templates, the body signed with HMAC-SHA256 via
# LuaJIT's FFI into the libcrypto wrk itself links; non-2xx answers are counted.
LUA = """\
local ffi = require("ffi")
ffi.cdef[[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
                    const unsigned char *d, size_t n, unsigned char *md, unsigned int *md_len);
]]
local ok, crypto = pcall(function() ffi.C.EVP_sha256(); return ffi.C end)
if not ok then crypto = ffi.load("libcrypto.so.3") end
local secret = [==[{secret}]==]
local templates = {{}}
for line in io.lines([==[{templates}]==]) do
  local tab = line:find("\\t", 1, true)
  templates[#templates + 1] = {{line:sub(1, tab - 1), line:sub(tab + 1)}}
end
local md = ffi.new("unsigned char[32]")
local md_len = ffi.new("unsigned int[1]")
local hex = {{}}
local function sign(body)
  crypto.HMAC(crypto.EVP_sha256(), secret, #secret, body, #body, md, md_len)
  for i = 0, 31 do hex[i + 1] = string.format("%02x", md[i]) end
  return "sha256=" .. table.concat(hex)
end
local threads, started = {{}}, 0
function setup(thread)
  started = started + 1
  thread:set("thread_no", started)
  threads[#threads + 1] = thread
end
local prefix, counter = "x", 0
function init(args)
  prefix = (args[1] or "run") .. "." .. tostring(thread_no or 0) .. "."
end
non2xx = 0
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
local headers = {{["Content-Type"] = "application/json"}}
request = function()
  counter = counter + 1
  local template = templates[counter % #templates + 1]
  local body = template[1] .. "wamid.BENCH" .. prefix .. counter .. template[2]
  headers["X-Hub-Signature-256"] = sign(body)
  return wrk.format("POST", nil, headers, body)
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    'BENCH {{"requests":%d,"duration_us":%d,"socket_errors":%d,"non2xx":%d,' ..
    '"p50_us":%d,"p99_us":%d}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, bad,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    note: str = ""
    cores: dict[str, float] = field(default_factory=dict)


def metered(meter: ws.CpuMeter, measure: Callable[[], Sample]) -> Sample:
    meter.start()
    sample = measure()
    return replace(sample, cores=meter.stop())


# -- Parley under wrk ------------------------------------------------------------------------


def write_templates(path: Path) -> Path:
    """One line per status kind: the compact JSON body split around the wamid by a tab."""
    lines = []
    for index, state in enumerate(STATES):
        body = ws.status_body(PLACEHOLDER, state, int(time.time()), customer=index).decode()
        before, after = body.split(PLACEHOLDER)
        lines.append(f"{before}\t{after}\n")
    path.write_text("".join(lines))
    return path


def stored_events(mongo: MongoClient[dict[str, Any]]) -> int:
    return mongo[ws.DB_NAME]["webhook_events"].estimated_document_count()


def run_wrk(
    url: str, script: Path, seconds: int, args: argparse.Namespace, mongo: MongoClient[Any]
) -> Sample:
    before = stored_events(mongo)
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s"]
    argv += ["--timeout=5s", "-s", str(script), url, "--", uuid.uuid4().hex[:12]]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    for line in result.stdout.splitlines():
        if line.startswith("BENCH "):
            raw = json.loads(line.removeprefix("BENCH "))
            break
    else:
        raise RuntimeError(f"wrk gave no summary:\n{result.stdout}{result.stderr}")
    ok = raw["requests"] - raw["non2xx"]
    stored = stored_events(mongo) - before
    # In-flight requests at wrk's stop may be stored and not counted: never fewer stored.
    missing = max(0, ok - stored)
    return Sample(
        rps=ok / (raw["duration_us"] / 1e6),
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        errors=raw["socket_errors"] + raw["non2xx"] + missing,
        note=f"{ok} acknowledged, {stored} stored",
    )


# -- the raw insert baseline -------------------------------------------------------------------


def event_document(body: bytes, channel_id: str, tenant_id: str) -> dict[str, Any]:
    """What Parley stores for one delivery (`WebhookEventDocument`), field for field."""
    return {
        "channel_type": "whatsapp",
        "channel_id": channel_id,
        "tenant_id": tenant_id,
        "received_at": datetime.now(UTC),
        "body": Binary(body),
        "signature_verified": True,
        "status": "received",
        "items": 0,
        "error": None,
    }


async def raw_inserts(
    mongo_url: str, document: dict[str, Any], seconds: float, concurrency: int
) -> Sample:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_url, maxPoolSize=concurrency, tz_aware=True
    )
    collection = client[ws.DB_NAME]["bench_raw_events"]
    latencies: list[float] = []
    try:
        await asyncio.gather(*(collection.insert_one(dict(document)) for _ in range(concurrency)))
        end = time.perf_counter() + seconds

        async def inserter() -> None:
            while time.perf_counter() < end:
                started = time.perf_counter()
                await collection.insert_one(dict(document))  # a fresh _id each time
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(inserter() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    finally:
        await client.close()
    return Sample(
        rps=len(latencies) / elapsed,
        p50_ms=ws.percentile(latencies, 50) * 1000,
        p99_ms=ws.percentile(latencies, 99) * 1000,
        errors=0,
        note=f"{len(latencies)} inserted",
    )


# -- rounds and report -------------------------------------------------------------------------


def report_round(round_no: int, name: str, sample: Sample) -> None:
    ws.say(
        f"round {round_no} {name:<21} {sample.rps:8.0f}/s  p50 {sample.p50_ms:7.2f} ms  "
        f"p99 {sample.p99_ms:7.2f} ms  errors {sample.errors}  ({sample.note}; "
        f"{ws.cpu_note(sample.cores)})"
    )


def rounds(
    target: str,
    url: str,
    script: Path,
    document: dict[str, Any],
    args: argparse.Namespace,
    mongo: MongoClient[Any],
    stack: ws.Stack,
) -> dict[str, list[Sample]]:
    """Warm-up, then `--runs` rounds of [raw inserts, Parley], one after the other."""
    mongo_url, meter = stack.mongo_url, ws.CpuMeter(stack.groups)
    if args.warmup > 0:
        asyncio.run(raw_inserts(mongo_url, document, args.warmup, args.connections))
        run_wrk(url, script, args.warmup, args, mongo)
    samples: dict[str, list[Sample]] = {RAW: [], target: []}
    for round_no in range(1, args.runs + 1):
        raw = metered(
            meter,
            lambda: asyncio.run(raw_inserts(mongo_url, document, args.duration, args.connections)),
        )
        samples[RAW].append(raw)
        report_round(round_no, RAW, raw)
        parley = metered(meter, lambda: run_wrk(url, script, args.duration, args, mongo))
        samples[target].append(parley)
        report_round(round_no, target, parley)
    return samples


def summarise(samples: list[Sample], base: list[Sample]) -> dict[str, Any]:
    med = statistics.median
    return {
        "rps": med(s.rps for s in samples),
        "p50_ms": med(s.p50_ms for s in samples),
        "p99_ms": med(s.p99_ms for s in samples),
        "errors": sum(s.errors for s in samples),
        # Each ratio pairs Parley with the raw insert rate measured in the same round.
        "ratio": med(s.rps / b.rps for s, b in zip(samples, base, strict=True)),
        "cores": {k: med(s.cores.get(k, 0.0) for s in samples) for k in samples[0].cores},
        "rounds": [vars(s) for s in samples],
    }


def table(rows: dict[str, dict[str, Any]], runs: int) -> str:
    lines = [
        f"| target | per s (median of {runs}) | p50 ms | p99 ms | errors | ratio to raw insert "
        "| cores: API / DB / bench+wrk / worker / other |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, row in rows.items():
        errors = f"{row['errors']} INVALID" if row["errors"] else "0"
        cores = row["cores"]
        used = " / ".join(
            f"{cores[k]:.2f}" if k in cores else "-"
            for k in ("parley", "db", "bench", "worker", "other")
        )
        lines.append(
            f"| {name} | {row['rps']:.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} "
            f"| {errors} | {row['ratio']:.2f} | {used} |"
        )
    return "\n".join(lines)


def verdict(name: str, row: dict[str, Any], worker: str) -> str:
    met = row["ratio"] >= GOAL_RATIO and row["p99_ms"] < GOAL_P99_MS
    outcome = "INVALID (errors)" if row["errors"] else ("goal met" if met else "goal missed")
    return (
        f"{name} ({worker}): {row['ratio']:.0%} of the raw insert rate (goal ≥ {GOAL_RATIO:.0%}), "
        f"ack p99 {row['p99_ms']:.0f} ms (goal < {GOAL_P99_MS:.0f} ms): {outcome}"
    )


def sanity_check(port: int, path: str) -> None:
    """One signed delivery must be acknowledged and a badly signed one refused."""
    body = ws.status_body(f"wamid.CHECK{uuid.uuid4().hex}", "delivered", int(time.time()))
    headers = {"Content-Type": "application/json"}
    status, answer = ws.http_call(
        port, "POST", path, body, {**headers, "X-Hub-Signature-256": ws.signature(body)}
    )
    if status != 200:
        raise RuntimeError(f"a signed webhook was not acknowledged: {status} {answer[:300]!r}")
    wrong = ws.signature(body, "not-the-secret")
    status, _ = ws.http_call(port, "POST", path, body, {**headers, "X-Hub-Signature-256": wrong})
    if status != 403:
        raise RuntimeError(f"a badly signed webhook got {status}, not 403")


def drop_queued_jobs(stack: ws.Stack) -> None:
    """Empty Parley's queue in the broker (the jobs of the rounds without a worker), so the
    worker starts on what comes in, not on a backlog; kombu's bindings stay."""
    broker = Redis.from_url(ws.redis_db(stack.redis_url, 1))
    try:
        dropped = 0
        for key in broker.scan_iter(match=f"{DEFAULT_QUEUE}*"):
            dropped += int(broker.llen(key)) if broker.type(key) == b"list" else 0
            broker.delete(key)
        ws.say(f"dropped {dropped} queued jobs (the deliveries of the rounds without a worker)")
    finally:
        broker.close()


def processed(mongo: MongoClient[Any]) -> int:
    return mongo[ws.DB_NAME]["webhook_events"].count_documents({"status": "processed"})


def run(args: argparse.Namespace, work: Path) -> dict[str, dict[str, Any]]:
    with contextlib.ExitStack() as cleanup:
        stack = ws.start_stack(work, cleanup)
        seeded = asyncio.run(ws.seed_channel(stack.parley_settings, "http://graph.invalid", 80))
        parley = ws.start_parley(stack)
        path = ws.webhook_path(seeded.channel_id)
        sanity_check(parley.port, path)
        script = work / "ingest.lua"
        templates = write_templates(work / "templates.txt")
        script.write_text(LUA.format(secret=ws.APP_SECRET, templates=templates))
        sample_body = ws.status_body("wamid.BENCH0123456789abc.1.100000", "delivered", 0)
        document = event_document(sample_body, seeded.channel_id, seeded.tenant_id)
        mongo: MongoClient[dict[str, Any]] = MongoClient(stack.mongo_url)
        cleanup.callback(mongo.close)
        ws.say(f"load average before the rounds: {ws.load_average()}; no worker running")
        url = f"{parley.url}{path}"
        samples = rounds(INGEST, url, script, document, args, mongo, stack)
        rows = {name: summarise(s, samples[RAW]) for name, s in samples.items()}
        if args.worker:
            drop_queued_jobs(stack)
            ws.say(f"starting one worker (threads pool, concurrency {args.concurrency})")
            ws.start_worker(stack, concurrency=args.concurrency)
            done_before, started = processed(mongo), time.perf_counter()
            worker_samples = rounds(INGEST_WORKER, url, script, document, args, mongo, stack)
            rate = (processed(mongo) - done_before) / (time.perf_counter() - started)
            ws.say(f"the worker processed {rate:.0f} deliveries/s during these rounds")
            rows[f"{RAW} (worker rounds)"] = summarise(worker_samples[RAW], worker_samples[RAW])
            rows[INGEST_WORKER] = summarise(worker_samples[INGEST_WORKER], worker_samples[RAW])
            rows[INGEST_WORKER]["worker_processed_per_s"] = rate
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per target per round")
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (and "
                        "concurrent raw inserts)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--warmup", type=int, default=2, help="unrecorded seconds per target")
    parser.add_argument("--worker", action="store_true", help="also measure with a worker")
    parser.add_argument("--concurrency", type=int, default=8, help="the worker's threads")
    parser.add_argument("--json-out", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    for name in ("duration", "runs", "connections", "threads", "concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_wrk()
    signal.signal(signal.SIGTERM, ws.raise_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        rows = run(args, Path(tmp))
    print()
    print(table(rows, args.runs))
    print()
    print(verdict(INGEST, rows[INGEST], "no worker running"))
    if INGEST_WORKER in rows:
        print(verdict(INGEST_WORKER, rows[INGEST_WORKER], "one worker processing"))
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
