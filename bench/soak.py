"""Soak: mixed load on Parley for a long while, its resources sampled, flat or growing.

    uv run --frozen python bench/soak.py [--minutes 30] [--interval 30] [--warmup 120]
                                         [--out soak-results] [--reads 20] [--writes 2]
                                         [--webhooks 4] [--sends 1] [--streams 0.5]
                                         [--uploads 0.5]

Starts, on free ports of 127.0.0.1 (`bench/whatsapp_stack.py`): SecantusDB (standalone, in
memory), Redis, the tests' fake Graph API and fake LLM as processes, Parley's API (one
uvicorn worker) and one Celery worker (threads pool, as `scripts/serve` starts it), a
tenant with an owner and a WhatsApp channel. Then, for `--minutes`, at the given rates
per second: authenticated reads (a contact, the contact list, the owner's user), writes
(a contact created, changed and deleted), signed webhooks (inbound texts from 50
customers, and statuses), sends (`POST /api/v1/messages`, a template, delivered by the
worker through the fake Graph), AI answers streamed as SSE (`POST /api/v1/ai/ask`, 50
tokens) and uploads (256 KiB, then deleted). Every `--interval` s it samples the API's
and the worker's RSS, open file descriptors and TCP connections (from /proc), Redis's
key count (every database) and memory, and SecantusDB's RSS (informative: it holds the
data the load writes). At the end: first/last/max and the least-squares slope of each
quantity over the samples after `--warmup` s, "flat" or "grows" (the fitted change over
that window above a stated threshold), the series as CSV and JSON in `--out`. Requests
that failed (non-2xx, connection errors) are counted per kind; any makes the run
INVALID (exit 1), as does a quantity that grows (exit 2). See `bench/README.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import csv
import json
import os
import random
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from redis import Redis

BENCH_DIR = Path(__file__).resolve().parent
for _path in (BENCH_DIR, BENCH_DIR.parent / "scripts"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import devservers  # noqa: E402 - found through the path set just above
import whatsapp_stack as ws  # noqa: E402

# What counts as growth over the measured window (the fitted change first to last
# sample), per quantity: an absolute floor, and a share of the quantity's mean.
THRESHOLDS: dict[str, tuple[float, float]] = {
    "rss_mb": (16.0, 0.10),
    "fds": (10.0, 0.10),
    "tcp": (10.0, 0.10),
    "redis_keys": (200.0, 0.10),
    "redis_keys_no_ttl": (20.0, 0.10),
    "redis_mb": (4.0, 0.10),
}
MODEL = "bench:latest"
PNG = b"\x89PNG\r\n\x1a\n"
CUSTOMERS = 50
ID_LIKE = re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-f]{24,}|\d+")


# -- samples ----------------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fds_and_tcp(pid: int) -> tuple[int, int]:
    """Open file descriptors of `pid`, and how many of them are TCP connections (IPv4 and
    IPv6, any state but LISTEN) from /proc/PID/net/tcp{,6} matched by socket inode."""
    inodes: set[str] = set()
    count = 0
    fd_dir = Path(f"/proc/{pid}/fd")
    for entry in fd_dir.iterdir():
        count += 1
        with contextlib.suppress(OSError):
            target = os.readlink(entry)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    tcp = 0
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                parts = line.split()
                if parts[3] != "0A" and parts[9] in inodes:  # 0A: LISTEN
                    tcp += 1
    return count, tcp


def redis_figures(redis_url: str) -> tuple[int, int, float]:
    """Keys in every database, keys without a TTL, and used memory (MB)."""
    client = Redis.from_url(redis_url)
    try:
        keyspace: dict[str, Any] = client.info("keyspace")
        keys = sum(int(db["keys"]) for db in keyspace.values())
        no_ttl = 0
        for name in keyspace:
            number = int(name[2:])
            db = Redis.from_url(ws.redis_db(redis_url, number))
            try:
                for key in db.scan_iter(count=1000):
                    if db.ttl(key) == -1:
                        no_ttl += 1
            finally:
                db.close()
        memory: dict[str, Any] = client.info("memory")
        return keys, no_ttl, int(memory["used_memory"]) / 2**20
    finally:
        client.close()


def key_shapes(redis_url: str) -> list[dict[str, Any]]:
    """Redis's keys grouped by shape (ids and numbers as `*`), with how many have no TTL and
    the longest TTL left: what grows, and whether it expires."""
    shapes: dict[str, dict[str, Any]] = {}
    client = Redis.from_url(redis_url)
    try:
        keyspace: dict[str, Any] = client.info("keyspace")
    finally:
        client.close()
    for name in keyspace:
        db = Redis.from_url(ws.redis_db(redis_url, int(name[2:])))
        try:
            for key in db.scan_iter(count=1000):
                shape = f"{name}:" + ID_LIKE.sub("*", key.decode(errors="replace"))
                ttl = int(db.ttl(key))
                entry = shapes.setdefault(
                    shape, {"shape": shape, "keys": 0, "no_ttl": 0, "max_ttl_s": 0}
                )
                entry["keys"] += 1
                entry["no_ttl"] += ttl == -1
                entry["max_ttl_s"] = max(entry["max_ttl_s"], ttl)
        finally:
            db.close()
    return sorted(shapes.values(), key=lambda e: -e["keys"])


@dataclass
class Sampler:
    pids: dict[str, int]  # name -> pid (api, worker, db)
    redis_url: str
    interval: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        row: dict[str, Any] = {"t_s": round(time.monotonic() - self.started, 1)}
        row["load1"] = float(Path("/proc/loadavg").read_text().split()[0])
        for name, pid in self.pids.items():
            row[f"{name}_rss_mb"] = round(rss_mb(pid), 2)
            if name != "db":
                fds, tcp = fds_and_tcp(pid)
                # Files, pipes and the like apart from the TCP connections, which follow
                # the clients (a backlog of requests in flight opens more of them).
                row[f"{name}_fds"], row[f"{name}_tcp"], row[f"{name}_other_fds"] = (
                    fds,
                    tcp,
                    fds - tcp,
                )
        keys, no_ttl, memory = redis_figures(self.redis_url)
        row.update(redis_keys=keys, redis_keys_no_ttl=no_ttl, redis_mb=round(memory, 2))
        self.rows.append(row)
        ws.say("sample " + " ".join(f"{k}={v}" for k, v in row.items()))

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(OSError, ValueError):
                self.sample()

    def start(self) -> threading.Thread:
        self.sample()
        thread = threading.Thread(target=self.run, name="soak-sampler", daemon=True)
        thread.start()
        return thread

    def stop(self, thread: threading.Thread) -> None:
        self._stop.set()
        thread.join()
        self.sample()


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    if len(points) < 2:
        return 0.0
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    den = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / den if den else 0.0


def threshold_of(column: str) -> tuple[float, float]:
    for suffix, value in THRESHOLDS.items():
        if column.endswith(suffix):
            return value
    raise KeyError(column)


def analyse(rows: list[dict[str, Any]], warmup: float) -> list[dict[str, Any]]:
    measured = [r for r in rows if r["t_s"] >= warmup] or rows
    columns = [c for c in rows[0] if c not in ("t_s", "load1")]
    result = []
    for column in columns:
        points = [(r["t_s"], float(r[column])) for r in measured]
        per_s = slope(points)
        window = points[-1][0] - points[0][0]
        change = per_s * window
        absolute, share = threshold_of(column)
        mean = statistics.fmean(y for _, y in points)
        limit = max(absolute, share * mean)
        informative = column.startswith("db_")
        result.append(
            {
                "quantity": column,
                "first": points[0][1],
                "last": points[-1][1],
                "max": max(y for _, y in points),
                "slope_per_hour": per_s * 3600,
                "fitted_change": change,
                "threshold": limit,
                "verdict": "grows" if change > limit else "flat",
                "informative": informative,
            }
        )
    return result


# -- the load ---------------------------------------------------------------------------------


@dataclass
class Tally:
    ok: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def fail(self, kind: str, what: str) -> None:
        self.failed[kind] += 1
        if kind not in self.examples:
            self.examples[kind] = what
            ws.say(f"{kind} failed: {what}")


class Load:
    def __init__(self, http: httpx.AsyncClient, seeded: ws.Seeded, tally: Tally) -> None:
        self.http = http
        self.seeded = seeded
        self.tally = tally
        self.contacts: list[str] = []
        self.owner_id = ""
        self.serial = 0

    def number(self) -> int:
        self.serial += 1
        return self.serial

    async def expect(self, kind: str, response: Awaitable[httpx.Response], *codes: int) -> Any:
        try:
            answer = await response
        except httpx.HTTPError as exc:
            self.tally.fail(kind, f"{type(exc).__name__}: {exc}")
            return None
        if answer.status_code not in codes:
            self.tally.fail(kind, f"{answer.status_code} {answer.text[:300]}")
            return None
        self.tally.ok[kind] += 1
        return answer.json() if "json" in answer.headers.get("content-type", "") else {}

    async def read(self) -> None:
        choice = random.random()
        if choice < 0.5 and self.contacts:
            contact = random.choice(self.contacts)
            await self.expect("read", self.http.get(f"/api/v1/contacts/{contact}"), 200, 404)
        elif choice < 0.8:
            await self.expect("read", self.http.get(f"/api/v1/users/{self.owner_id}"), 200)
        else:
            await self.expect("read", self.http.get("/api/v1/contacts?limit=20"), 200)

    async def write(self) -> None:
        n = self.number()
        # An email, not a phone: numbers would collide after a while, these never do.
        body = {"name": f"Soak {n}", "email": f"soak-{uuid.uuid4().hex[:12]}@example.com"}
        made = await self.expect("write", self.http.post("/api/v1/contacts", json=body), 201)
        if not made:
            return
        contact = made["id"]
        self.contacts.append(contact)
        patch = {"name": f"Soak {n} (changed)"}
        await self.expect("write", self.http.patch(f"/api/v1/contacts/{contact}", json=patch), 200)
        if len(self.contacts) > 200:  # keep the tenant's contacts bounded
            gone = self.contacts.pop(0)
            await self.expect("write", self.http.delete(f"/api/v1/contacts/{gone}"), 204)

    async def webhook(self) -> None:
        n = self.number()
        now = int(time.time())
        if n % 2:
            body = ws.text_body(f"wamid.SOAK.{uuid.uuid4().hex}", n % CUSTOMERS, f"hi {n}", now)
        else:
            body = ws.status_body(f"wamid.SOAKS.{uuid.uuid4().hex}", "delivered", now, n % 50)
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": ws.signature(body)}
        path = ws.webhook_path(self.seeded.channel_id)
        await self.expect("webhook", self.http.post(path, content=body, headers=headers), 200)

    async def send(self) -> None:
        n = self.number()
        body = {
            "channel_id": self.seeded.channel_id,
            "to": "+" + ws.customer_phone(n % CUSTOMERS),
            "type": "template",
            "template": {"name": "order_update", "language": "en_US"},
        }
        await self.expect("send", self.http.post("/api/v1/messages", json=body), 202)

    async def stream(self) -> None:
        body = {"message": "Say something, please.", "model": MODEL}
        try:
            async with self.http.stream("POST", "/api/v1/ai/ask", json=body) as response:
                if response.status_code != 200:
                    await response.aread()
                    self.tally.fail("stream", f"{response.status_code} {response.text[:300]}")
                    return
                error = False
                async for line in response.aiter_lines():
                    if line.startswith("event: error"):
                        error = True
                if error:
                    self.tally.fail("stream", "the stream ended with an error event")
                    return
        except httpx.HTTPError as exc:
            self.tally.fail("stream", f"{type(exc).__name__}: {exc}")
            return
        self.tally.ok["stream"] += 1

    async def upload(self) -> None:
        content = PNG + os.urandom(256 * 1024 - len(PNG))
        files = {"file": (f"soak-{self.number()}.png", content, "image/png")}
        made = await self.expect("upload", self.http.post("/api/v1/upload", files=files), 201)
        if made:
            await self.expect("upload", self.http.delete(f"/api/v1/files/{made['id']}"), 204)


async def at_rate(
    kind: str, rate: float, until: float, job: Callable[[], Coroutine[Any, Any, None]], tally: Tally
) -> None:
    """Start `job` `rate` times a second (open loop) until `until`; at most 50 of a kind in
    flight: past that a start is skipped and counted, so a slow Parley is seen, not hidden."""
    if rate <= 0:
        return
    in_flight: set[asyncio.Task[None]] = set()
    started = time.monotonic()
    i = 0
    while True:
        at = started + i / rate
        if at >= until:
            break
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        i += 1
        if len(in_flight) >= 50:
            tally.skipped[kind] += 1
            continue
        task = asyncio.create_task(job())
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight, return_exceptions=True)


def bearer_subject(token: str) -> str:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


async def sign_in(http: httpx.AsyncClient, seeded: ws.Seeded) -> str:
    answer = await http.post(
        "/api/v1/auth/login",
        json={"email": ws.OWNER_EMAIL, "password": ws.OWNER_PASSWORD},
        headers={"X-Tenant-ID": seeded.tenant_id},
    )
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    http.headers["X-Tenant-ID"] = seeded.tenant_id
    return token


async def drive(url: str, seeded: ws.Seeded, args: argparse.Namespace, tally: Tally) -> None:
    # Idle connections dropped well before uvicorn's 5 s keep-alive closes them: reusing one
    # the server has just closed fails the request on the client (not Parley's error).
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=100, keepalive_expiry=2)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        load = Load(http, seeded, tally)
        load.owner_id = bearer_subject(await sign_in(http, seeded))
        until = time.monotonic() + args.minutes * 60

        async def refresh() -> None:  # a fresh access token every 10 minutes
            while time.monotonic() + 600 < until:
                await asyncio.sleep(600)
                await sign_in(http, seeded)

        refresher = asyncio.create_task(refresh())
        jobs: list[tuple[str, float, Callable[[], Coroutine[Any, Any, None]]]] = [
            ("read", args.reads, load.read),
            ("write", args.writes, load.write),
            ("webhook", args.webhooks, load.webhook),
            ("send", args.sends, load.send),
            ("stream", args.streams, load.stream),
            ("upload", args.uploads, load.upload),
        ]
        try:
            await asyncio.gather(*(at_rate(k, r, until, j, tally) for k, r, j in jobs))
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher


# -- the run ----------------------------------------------------------------------------------


def write_series(rows: list[dict[str, Any]], summary: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "soak.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "soak.json").write_text(json.dumps({"samples": rows, **summary}, indent=2))


def table(analysis: list[dict[str, Any]]) -> str:
    lines = [
        "| quantity | first | last | max | slope /h | fitted change | threshold | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for a in analysis:
        verdict = a["verdict"] + (" (informative)" if a["informative"] else "")
        lines.append(
            f"| {a['quantity']} | {a['first']:g} | {a['last']:g} | {a['max']:g} | "
            f"{a['slope_per_hour']:+.2f} | {a['fitted_change']:+.2f} | {a['threshold']:.2f} | "
            f"{verdict} |"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace, work: Path) -> int:
    tally = Tally()
    with contextlib.ExitStack() as cleanup:
        llm_port = devservers.free_port()
        storage = work / "blobs"
        storage.mkdir()
        stack = ws.start_stack(
            work,
            cleanup,
            OLLAMA_HOST=f"http://{ws.HOST}:{llm_port}",
            AI_MODELS_CACHE_SECONDS="30",
            LOCAL_STORAGE_DIR=str(storage),
            ACCESS_TOKEN_TTL_SECONDS="3600",  # noqa: S106 - a lifetime, not a secret
            LOGIN_RATE_PER_IP="1000000",
            LOGIN_RATE_PER_ACCOUNT="1000000",
            LOOP_BLOCK_WARN_MS="50",
        )
        llm_argv = [sys.executable, "-m", "tests.support.fake_llm", "--host", ws.HOST]
        llm_argv += ["--port", str(llm_port), "--tokens", str(args.tokens)]
        stack.spawn("fake_llm", llm_argv, llm_port)
        devservers.wait_for_port(ws.HOST, llm_port, timeout=30)
        graph = ws.start_fake_graph(stack, args.graph_delay)
        seeded = asyncio.run(ws.seed_channel(stack.parley_settings, graph.url, 80))
        parley = ws.start_parley(stack)
        worker = ws.start_worker(stack, concurrency=8)
        load_before = ws.load_average()
        ws.say(f"load average before the run: {load_before}")
        sampler = Sampler(
            {"api": parley.process.pid, "worker": worker.process.pid, "db": stack.groups["db"]},
            stack.redis_url,
            args.interval,
        )
        thread = sampler.start()
        meter = ws.CpuMeter(stack.groups)
        meter.start()
        ws.say(f"mixed load for {args.minutes:g} min, a sample every {args.interval:g} s")
        try:
            asyncio.run(drive(parley.url, seeded, args, tally))
        finally:
            sampler.stop(thread)
        cores = meter.stop()
        parley.check_alive()
        worker.check_alive()
        stalls = parley.log_path.read_text(errors="replace").count("event loop blocked")
        shapes = key_shapes(stack.redis_url)
    analysis = analyse(sampler.rows, args.warmup)
    loads = [r["load1"] for r in sampler.rows]
    summary = {
        "args": vars(args) | {"out": str(args.out)},
        "load_average_before": load_before,
        "load1_median": statistics.median(loads),
        "load1_max": max(loads),
        "cores": cores,
        "requests_ok": dict(tally.ok),
        "requests_failed": dict(tally.failed),
        "starts_skipped": dict(tally.skipped),
        "failure_examples": tally.examples,
        "api_loop_stalls_over_50ms": stalls,
        "analysis": analysis,
        "redis_key_shapes_at_end": shapes,
    }
    write_series(sampler.rows, summary, args.out)
    print(table(analysis))
    print()
    print(f"requests ok: {dict(tally.ok)}")
    print(f"requests failed: {dict(tally.failed)}; starts skipped: {dict(tally.skipped)}")
    print("Redis keys at the end, by shape (keys, without TTL, longest TTL left in s):")
    for entry in shapes[:12]:
        print(f"  {entry['shape']}: {entry['keys']}, {entry['no_ttl']}, {entry['max_ttl_s']}")
    print(f"API loop stalls over 50 ms logged: {stalls}")
    print(
        f"load average before {load_before}; 1-min load during: median "
        f"{summary['load1_median']:.2f}, max {summary['load1_max']:.2f}"
    )
    print(ws.cpu_note(cores))
    growing = [a["quantity"] for a in analysis if a["verdict"] == "grows" and not a["informative"]]
    print(f"series: {args.out / 'soak.csv'}, {args.out / 'soak.json'}")
    if tally.failed:
        print("INVALID: some requests failed")
        return 1
    print("grows: " + ", ".join(growing) if growing else "every quantity flat")
    return 2 if growing else 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long the load runs")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=120.0, help="s not in the slopes")
    parser.add_argument("--out", type=Path, default=Path("soak-results"))
    parser.add_argument("--reads", type=float, default=20.0, help="authenticated reads/s")
    parser.add_argument("--writes", type=float, default=2.0, help="contact writes/s")
    parser.add_argument("--webhooks", type=float, default=4.0, help="signed webhooks/s")
    parser.add_argument("--sends", type=float, default=1.0, help="sends/s")
    parser.add_argument("--streams", type=float, default=0.5, help="AI streams started/s")
    parser.add_argument("--uploads", type=float, default=0.5, help="256 KiB uploads/s")
    parser.add_argument("--tokens", type=int, default=50, help="tokens per AI answer")
    parser.add_argument("--graph-delay", type=float, default=0.05, help="fake Graph delay, s")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, ws.raise_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="parley-bench-soak-") as tmp:
        return run(args, Path(tmp))


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        sys.exit("bench: interrupted; everything it started has been stopped.")
