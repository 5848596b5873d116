"""Parley's tenant-resolved read against a bare one-read baseline, measured in one run.

    uv run --frozen python bench/tenant_read.py [--duration 10] [--runs 3] [--connections 64]

Starts its own SecantusDB (standalone, in memory) and Redis on free ports, seeds tenants
and baseline items, serves the baseline app and two Parley servers (tenant cache on, and
off) with one uvicorn worker each, loads every target with ``wrk`` in interleaved rounds,
and prints a markdown table of medians and ratios to the baseline measured in the same
rounds. Everything it started is stopped on exit, Ctrl-C and errors included.
See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from bson import ObjectId
from pymongo import MongoClient

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO / "scripts"))

import devservers  # noqa: E402 - found through the path set just above

HOST = "127.0.0.1"
DB_NAME = "parley_bench"
BASELINE = "baseline_find_one"
GOAL_THROUGHPUT = 0.70
GOAL_P99 = 2.0
READY_TIMEOUT = 60.0
TIMES = "\N{MULTIPLICATION SIGN}"

# -- wrk and its Lua script ---------------------------------------------------------------

# One script for every target: an optional list of values (one a line) picked at random
# per request, used as the path or as one header; counts non-2xx answers in every thread
# (wrk itself only counts status >= 400) and prints one JSON summary line at the end.
LUA_TEMPLATE = """\
local mode, header = "{mode}", "{header}"
local values = {{}}
if mode ~= "fixed" then
  for line in io.lines([==[{values_file}]==]) do values[#values + 1] = line end
end
local threads, started = {{}}, 0
function setup(thread)
  started = started + 1
  thread:set("thread_no", started)
  threads[#threads + 1] = thread
end
function init(args)
  math.randomseed(os.time() * 1000 + (thread_no or 0))
end
non2xx = 0
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
local extra = {{}}
if mode == "path" then
  request = function() return wrk.format(nil, values[math.random(#values)]) end
elseif mode == "header" then
  request = function()
    extra[header] = values[math.random(#values)]
    return wrk.format(nil, nil, extra)
  end
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

Mode = Literal["fixed", "path", "header"]


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    mode: Mode = "fixed"
    values_file: Path | None = None
    header: str = ""


@dataclass(frozen=True)
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def ensure_wrk() -> None:
    """Install Debian's ``wrk`` when missing and we are root; otherwise say what to do."""
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0:
        sys.exit("bench: `wrk` is not installed; run `sudo apt-get install -y wrk` and retry.")
    print("bench: installing wrk (apt-get)...", file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
    if not shutil.which("wrk"):
        sys.exit("bench: `apt-get install wrk` finished but `wrk` is still not on PATH.")


def lua_for(target: Target) -> str:
    values = str(target.values_file) if target.values_file else ""
    return LUA_TEMPLATE.format(mode=target.mode, header=target.header, values_file=values)


def run_wrk(target: Target, seconds: int, connections: int, threads: int, work: Path) -> Sample:
    script = work / f"{target.name}.lua"
    script.write_text(lua_for(target))
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout=5s"]
    argv += ["-s", str(script), target.url]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    for line in result.stdout.splitlines():
        if line.startswith("BENCH "):
            return _sample(json.loads(line.removeprefix("BENCH ")))
    raise RuntimeError(f"wrk gave no summary for {target.name}:\n{result.stdout}{result.stderr}")


def _sample(raw: dict[str, int]) -> Sample:
    return Sample(
        rps=raw["requests"] / (raw["duration_us"] / 1e6),
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        errors=raw["socket_errors"] + raw["non2xx"],
    )


# -- processes ------------------------------------------------------------------------


@dataclass
class Uvicorn:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        devservers.stop_process_group(self.process, timeout=10.0)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # anything left in its group

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def start_uvicorn(name: str, app_args: list[str], env: dict[str, str], work: Path) -> Uvicorn:
    port = devservers.free_port()
    argv = [sys.executable, "-m", "uvicorn", *app_args, "--host", HOST, "--port", str(port)]
    argv += ["--workers", "1", "--no-access-log", "--log-level", "warning"]
    log_path = work / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=work,  # not the repo: a developer's `.env` must not change what we measure
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: Ctrl-C reaches us, we stop it
        )
    return Uvicorn(name, port, process, log_path)


def http_get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_until_answers(server: Uvicorn, path: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.log_tail()}")
        with contextlib.suppress(OSError):
            if http_get(server.port, path)[0] == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not answer {path} in {READY_TIMEOUT:g} s")


# -- data -----------------------------------------------------------------------------


def _document(kind: str, i: int, now: datetime) -> dict[str, Any]:
    return {
        "_id": ObjectId(),
        "name": f"Bench {kind} {i:04d}",
        "subdomain": f"bench-{kind.lower()}-{i:04d}",
        "status": "active",
        "created_at": now,
        "updated_at": now,
    }


def seed(mongo_url: str, count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Tenants shaped as Parley stores them, and same-shaped items for the baseline."""
    now = datetime.now(UTC)
    tenants = [_document("Tenant", i, now) for i in range(count)]
    items = [_document("Item", i, now) for i in range(count)]
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_url, tz_aware=True)
    try:
        database = client[DB_NAME]
        database["tenants"].insert_many(tenants)
        database["items"].insert_many(items)
    finally:
        client.close()
    return tenants, items


def write_lines(path: Path, lines: Sequence[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


# -- the servers under test ---------------------------------------------------------------


@dataclass
class Stack:
    work: Path
    mongo_url: str = ""
    redis_url: str = ""
    servers: dict[str, Uvicorn] = field(default_factory=dict)


def parley_env(stack: Stack, cache_ttl: str) -> dict[str, str]:
    return {
        "MONGO_URI": stack.mongo_url,
        "MONGO_DB_NAME": DB_NAME,
        "REDIS_URL": stack.redis_url,
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "WARNING",
        "MULTI_TENANCY_STRATEGY": "header",
        "TENANT_CACHE_TTL_SECONDS": cache_ttl,
        "CORS_ORIGINS": "",
    }


def start_servers(stack: Stack, first_item: str) -> None:
    """The baseline, then Parley with its tenant cache (5 s, the default) and without."""
    baseline_env = {"BENCH_MONGO_URI": stack.mongo_url, "BENCH_DB_NAME": DB_NAME}
    baseline_args = ["baseline_app:app", "--app-dir", str(BENCH_DIR)]
    parley_args = ["api.main:create_app", "--factory", "--app-dir", str(REPO)]
    plan = [
        ("baseline", baseline_args, baseline_env, f"/items/{first_item}"),
        ("parley", parley_args, parley_env(stack, "5"), "/health"),
        ("parley_uncached", parley_args, parley_env(stack, "0"), "/health"),
    ]
    for name, args, env, ready_path in plan:  # one at a time: Parley creates its indexes
        server = start_uvicorn(name, args, env, stack.work)
        stack.servers[name] = server
        wait_until_answers(server, ready_path)


def check_answers(stack: Stack, tenant: dict[str, Any], item: dict[str, Any]) -> None:
    """One real read through each server before loading it: the seed must read back."""
    status, body = http_get(stack.servers["baseline"].port, f"/items/{item['_id']}")
    if status != 200 or json.loads(body)["name"] != item["name"]:
        raise RuntimeError(f"baseline read failed: {status} {body[:300]!r}")
    for name in ("parley", "parley_uncached"):
        headers = {"X-Tenant-ID": str(tenant["_id"])}
        status, body = http_get(stack.servers[name].port, "/api/v1/tenant", headers)
        answer = json.loads(body) if status == 200 else {}
        if answer.get("id") != str(tenant["_id"]) or answer.get("subdomain") != tenant["subdomain"]:
            raise RuntimeError(f"{name} tenant read failed: {status} {body[:300]!r}")


def targets_for(stack: Stack, tenant_ids: Path, item_paths: Path) -> list[Target]:
    def url(server: str, path: str) -> str:
        return f"http://{HOST}:{stack.servers[server].port}{path}"

    tenant = "/api/v1/tenant"
    return [
        Target(BASELINE, url("baseline", "/items/x"), "path", item_paths),
        Target("parley_tenant_get", url("parley", tenant), "header", tenant_ids, "X-Tenant-ID"),
        Target(
            "parley_tenant_get_uncached",
            url("parley_uncached", tenant),
            "header",
            tenant_ids,
            "X-Tenant-ID",
        ),
        Target("parley_health", url("parley", "/health")),
    ]


# -- measuring and reporting ----------------------------------------------------------------


def measure(targets: list[Target], args: argparse.Namespace, work: Path) -> dict[str, list[Sample]]:
    load = (args.connections, args.threads, work)
    if args.warmup > 0:
        for target in targets:
            run_wrk(target, args.warmup, *load)
    samples: dict[str, list[Sample]] = {t.name: [] for t in targets}
    for round_no in range(1, args.runs + 1):
        for target in targets:  # interleaved: drift and noise hit every target alike
            sample = run_wrk(target, args.duration, *load)
            samples[target.name].append(sample)
            print(
                f"round {round_no} {target.name:<27} {sample.rps:8.0f} rps  "
                f"p50 {sample.p50_ms:7.2f} ms  p99 {sample.p99_ms:7.2f} ms  "
                f"errors {sample.errors}",
                file=sys.stderr,
                flush=True,
            )
    return samples


def _ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline else math.nan


def summarise(samples: list[Sample], base: list[Sample]) -> dict[str, Any]:
    med = statistics.median
    return {
        "rps": med(s.rps for s in samples),
        "p50_ms": med(s.p50_ms for s in samples),
        "p99_ms": med(s.p99_ms for s in samples),
        # A round whose baseline answered nothing has no ratio: it makes the row INVALID.
        "errors": sum(s.errors for s in samples) + sum(1 for b in base if not b.rps),
        # Each ratio pairs a target with the baseline measured in the same round.
        "rps_ratio": med(_ratio(s.rps, b.rps) for s, b in zip(samples, base, strict=True)),
        "p99_ratio": med(_ratio(s.p99_ms, b.p99_ms) for s, b in zip(samples, base, strict=True)),
        "rounds": [vars(s) for s in samples],
    }


def table(rows: dict[str, dict[str, Any]], runs: int) -> str:
    lines = [
        f"| target | rps (median of {runs}) | p50 ms | p99 ms | errors | rps ratio | p99 ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        errors = f"{row['errors']} INVALID" if row["errors"] else "0"
        lines.append(
            f"| {name} | {row['rps']:.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} "
            f"| {errors} | {row['rps_ratio']:.2f} | {row['p99_ratio']:.2f} |"
        )
    return "\n".join(lines)


def verdict(row: dict[str, Any]) -> str:
    throughput, p99 = row["rps_ratio"], row["p99_ratio"]
    met = throughput >= GOAL_THROUGHPUT and p99 <= GOAL_P99
    outcome = "INVALID (errors)" if row["errors"] else ("goal met" if met else "goal missed")
    return (
        f"Parley tenant-resolved read: {throughput:.0%} of the bare baseline's throughput "
        f"(goal ≥ {GOAL_THROUGHPUT:.0%}), p99 {p99:.2f}{TIMES} (goal ≤ {GOAL_P99:g}{TIMES}): "
        f"{outcome}"
    )


# -- main -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per target per round")
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--warmup", type=int, default=2, help="unrecorded seconds per target")
    parser.add_argument("--tenants", type=int, default=1000, help="tenants (and items) seeded")
    parser.add_argument("--json-out", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    for name in ("duration", "runs", "connections", "threads", "tenants"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def _raise_on_sigterm(signum: int, _frame: object) -> None:
    print("bench: terminated; stopping everything it started.", file=sys.stderr, flush=True)
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop servers


def stop_servers(stack: Stack) -> None:
    for server in reversed(stack.servers.values()):
        server.stop()


@contextlib.contextmanager
def running_stack(work: Path) -> Iterator[Stack]:
    """Mongo and Redis on free ports; every process started here is stopped on the way out."""
    stack = Stack(work)
    with contextlib.ExitStack() as cleanup:
        mongo = devservers.start_mongo(standalone=True, log_file=str(work / "mongo.log"))
        cleanup.callback(mongo.stop)
        redis = devservers.start_redis(log_file=str(work / "redis.log"))
        cleanup.callback(redis.stop)
        stack.mongo_url, stack.redis_url = mongo.url, redis.url
        cleanup.callback(stop_servers, stack)
        yield stack


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    with running_stack(work) as stack:
        print(f"bench: seeding {args.tenants} tenants and items...", file=sys.stderr, flush=True)
        tenants, items = seed(stack.mongo_url, args.tenants)
        start_servers(stack, str(items[0]["_id"]))
        check_answers(stack, tenants[0], items[0])
        tenant_ids = write_lines(work / "tenant_ids.txt", [str(t["_id"]) for t in tenants])
        item_paths = write_lines(work / "item_paths.txt", [f"/items/{i['_id']}" for i in items])
        targets = targets_for(stack, tenant_ids, item_paths)
        samples = measure(targets, args, work)
    return {name: summarise(s, samples[BASELINE]) for name, s in samples.items()}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_wrk()
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        rows = run(args, Path(tmp))
    print()
    print(table(rows, args.runs))
    print()
    print(verdict(rows["parley_tenant_get"]))
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
