"""Inbound WhatsApp messages end to end: Meta's signed webhook POSTed to Parley until the
message reaches an agent's socket, at a steady rate, with a real worker running.

    uv run --frozen python bench/inbound_e2e.py [--rate 20] [--duration 60] [--warmup 5]
                                                [--contacts 50] [--concurrency 8]

Starts its own SecantusDB (standalone, in memory) and Redis on free ports, a tenant with a
WhatsApp channel, Parley's API (one uvicorn worker) and one Celery worker (threads pool,
`--concurrency` threads, as `scripts/serve` starts it). The owner signs in; the bench
opens `/api/v1/ws?access_token=...` and subscribes to the inbox, and also reads the
tenant's event stream in Redis (`parley:inbox:{tenant_id}`, what the worker writes and
every API replica fans out). Then it POSTs signed text messages (Meta's shape, a unique
wamid each, from `--contacts` customers in turn) open-loop at `--rate` per second: a
message is sent on schedule whether or not the earlier ones were answered.

For every message: the ack (POST to 200), POST to its `message.created` entry in the
stream (webhook, raw store, job, worker: contact, conversation, message, event), and POST
to its `message.created` frame on the socket (what the agent sees). Messages of the first
`--warmup` seconds are not counted. When the API has no `/api/v1/ws` (an older Parley),
the stream is the end point and the table says so. A message that does not arrive within
`--timeout` seconds makes the run INVALID. Everything it started is stopped on exit,
Ctrl-C and errors included. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import websockets
import whatsapp_stack as ws
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection

from api.infrastructure.realtime.streams import stream_key

GOAL_P99_MS = 500.0
WAMID = re.compile(r"wamid\.BENCH[0-9a-f]+\.[0-9]+")
SOCKET_TIMEOUT = 15.0
PING_SECONDS = 10.0


@dataclass
class Seen:
    """Arrival times (perf_counter) by wamid, on one path."""

    name: str
    times: dict[str, float] = field(default_factory=dict)

    def record(self, raw: str) -> None:
        now = time.perf_counter()
        for wamid in WAMID.findall(raw):
            self.times.setdefault(wamid, now)


@dataclass
class Sent:
    wamid: str
    started: float
    acked: float = 0.0
    status: int = 0


# -- the listeners --------------------------------------------------------------------------


async def read_stream(redis: Redis, tenant_id: str, seen: Seen, ready: asyncio.Event) -> None:
    """`message.created` entries of the tenant's stream, from now on."""
    key, last = stream_key(tenant_id), "$"
    ready.set()
    while True:
        answer: Any = await redis.xread({key: last}, block=1000, count=500)
        for _, entries in answer or []:
            for entry_id, fields in entries:
                last = entry_id
                event = fields.get(b"event") or fields.get("event") or b""
                text = event.decode() if isinstance(event, bytes) else str(event)
                if '"message.created"' in text:
                    seen.record(text)


async def open_socket(base_url: str, token: str) -> ClientConnection:
    """The agent's socket, subscribed to the inbox."""
    url = base_url.replace("http://", "ws://") + f"/api/v1/ws?access_token={token}"
    socket = await websockets.connect(url, open_timeout=SOCKET_TIMEOUT, max_size=None)
    await socket.send(json.dumps({"type": "subscribe", "topic": "inbox"}))
    deadline = time.monotonic() + SOCKET_TIMEOUT
    while time.monotonic() < deadline:
        frame = json.loads(await asyncio.wait_for(socket.recv(), SOCKET_TIMEOUT))
        if frame.get("type") == "subscribed":
            return socket
        if frame.get("type") == "error":
            raise RuntimeError(f"the socket refused the subscription: {frame}")
    raise RuntimeError("the socket did not confirm the inbox subscription")


async def read_socket(socket: ClientConnection, seen: Seen) -> None:
    try:
        async for raw in socket:
            text = raw if isinstance(raw, str) else raw.decode()
            if '"message.created"' in text:
                seen.record(text)
    except websockets.ConnectionClosed:
        pass
    ws.say(f"the socket was closed: code {socket.close_code} {socket.close_reason or ''}")


async def keep_alive(socket: ClientConnection) -> None:
    """A `ping` frame now and then: the server closes a socket that sends nothing."""
    while True:
        await asyncio.sleep(PING_SECONDS)
        await socket.send(json.dumps({"type": "ping"}))


# -- the load -------------------------------------------------------------------------------


async def post_one(http: httpx.AsyncClient, path: str, sent: Sent, customer: int) -> None:
    body = ws.text_body(sent.wamid, customer, f"Hello, is my order ready? ({sent.wamid})", 0)
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": ws.signature(body)}
    sent.started = time.perf_counter()
    try:
        answer = await http.post(path, content=body, headers=headers)
        sent.status = answer.status_code
    except httpx.HTTPError:
        sent.status = -1
    sent.acked = time.perf_counter()


async def send_at_rate(
    http: httpx.AsyncClient, path: str, args: argparse.Namespace, prefix: str
) -> list[Sent]:
    """Open loop: message i starts at t0 + i / rate, whatever happened to the others."""
    total = round(args.rate * (args.warmup + args.duration))
    messages = [Sent(f"wamid.BENCH{prefix}.{i}", 0.0) for i in range(total)]
    tasks = []
    t0 = time.perf_counter()
    for i, sent in enumerate(messages):
        delay = t0 + i / args.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(post_one(http, path, sent, i % args.contacts)))
    await asyncio.gather(*tasks)
    return messages


async def wait_for(messages: Sequence[Sent], paths: Sequence[Seen], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(m.wamid in p.times for p in paths for m in messages if m.status == 200):
            return
        await asyncio.sleep(0.05)


async def login(http: httpx.AsyncClient, tenant_id: str) -> str:
    answer = await http.post(
        "/api/v1/auth/login",
        json={"email": ws.OWNER_EMAIL, "password": ws.OWNER_PASSWORD},
        headers={"X-Tenant-ID": tenant_id},
    )
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


# -- the run --------------------------------------------------------------------------------


def latencies(messages: Sequence[Sent], seen: Seen | None) -> list[float]:
    if seen is None:
        return [(m.acked - m.started) * 1000 for m in messages if m.status == 200]
    return [(seen.times[m.wamid] - m.started) * 1000 for m in messages if m.wamid in seen.times]


async def measure(base_url: str, tenant_id: str, path: str, args: argparse.Namespace) -> Any:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http:
        socket = None
        if args.via != "stream":
            try:
                socket = await open_socket(base_url, await login(http, tenant_id))
            except websockets.InvalidStatus as exc:  # the handshake refused: no such route
                if args.via == "socket":
                    raise RuntimeError(f"this Parley has no /api/v1/ws: {exc}") from None
        via_socket = socket is not None
        stream_seen, socket_seen = Seen("stream"), Seen("socket")
        redis = Redis.from_url(args.redis_url)
        listeners = []
        ready = asyncio.Event()
        listeners.append(asyncio.create_task(read_stream(redis, tenant_id, stream_seen, ready)))
        if socket is not None:
            listeners.append(asyncio.create_task(read_socket(socket, socket_seen)))
            listeners.append(asyncio.create_task(keep_alive(socket)))
        await ready.wait()
        ends = [stream_seen, socket_seen] if via_socket else [stream_seen]
        try:
            ws.say(
                f"sending {args.rate:g} messages/s for {args.warmup + args.duration:g} s "
                f"({args.warmup:g} s unrecorded), listening on the "
                + ("socket and the stream" if via_socket else "stream only (no /api/v1/ws)")
            )
            messages = await send_at_rate(http, path, args, uuid.uuid4().hex[:10])
            await wait_for(messages, ends, args.timeout)
        finally:
            for task in listeners:
                task.cancel()
            await asyncio.gather(*listeners, return_exceptions=True)
            if socket is not None:
                await socket.close()
            await redis.aclose()
    return messages, stream_seen, socket_seen if via_socket else None


def row(name: str, values: list[float], expected: int) -> dict[str, Any]:
    return {
        "path": name,
        "count": len(values),
        "missing": expected - len(values),
        "p50_ms": ws.percentile(values, 50),
        "p99_ms": ws.percentile(values, 99),
        "max_ms": max(values, default=float("nan")),
    }


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    with contextlib.ExitStack() as cleanup:
        stack = ws.start_stack(work, cleanup)
        args.redis_url = stack.redis_url
        seeded = asyncio.run(ws.seed_channel(stack.parley_settings, "http://graph.invalid", 80))
        parley = ws.start_parley(stack)
        ws.say(f"starting one worker (threads pool, concurrency {args.concurrency})")
        worker = ws.start_worker(stack, concurrency=args.concurrency)
        ws.say(f"load average before the run: {ws.load_average()}")
        path = ws.webhook_path(seeded.channel_id)
        started = time.perf_counter()
        meter = ws.CpuMeter(stack.groups)
        meter.start()
        messages, stream_seen, socket_seen = asyncio.run(
            measure(parley.url, seeded.tenant_id, path, args)
        )
        cores = meter.stop()
        worker.check_alive()
        elapsed = time.perf_counter() - started
    skip = round(args.rate * args.warmup)
    counted = messages[skip:]
    expected = len(counted)
    rows = [row("ack (POST to 200)", latencies(counted, None), expected)]
    rows.append(row("POST to stream entry", latencies(counted, stream_seen), expected))
    if socket_seen is not None:
        rows.append(row("POST to socket frame", latencies(counted, socket_seen), expected))
    failed = sum(1 for m in messages if m.status != 200)
    return {
        "rows": rows,
        "sent": len(messages),
        "counted": expected,
        "failed_posts": failed,
        "end": "socket" if socket_seen is not None else "stream",
        "achieved_rate": len(messages) / (messages[-1].started - messages[0].started)
        if len(messages) > 1
        else 0.0,
        "elapsed_s": elapsed,
        "cores": cores,
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        "| path | messages | missing | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        missing = f"{r['missing']} INVALID" if r["missing"] else "0"
        lines.append(
            f"| {r['path']} | {r['count']} | {missing} | {r['p50_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['max_ms']:.1f} |"
        )
    return "\n".join(lines)


def invalid(result: dict[str, Any]) -> bool:
    return bool(result["failed_posts"]) or any(r["missing"] for r in result["rows"])


def verdict(result: dict[str, Any], args: argparse.Namespace) -> str:
    end = result["rows"][-1]
    met = end["p99_ms"] < GOAL_P99_MS
    outcome = (
        "INVALID (failed or missing messages)"
        if invalid(result)
        else ("goal met" if met else "goal missed")
    )
    interim = "" if result["end"] == "socket" else " (interim end point: no /api/v1/ws yet)"
    return (
        f"inbound end to end at {result['achieved_rate']:.1f} messages/s (asked {args.rate:g}), "
        f"one worker ({args.concurrency} threads): POST to {result['end']} p99 "
        f"{end['p99_ms']:.0f} ms (goal < {GOAL_P99_MS:.0f} ms){interim}: {outcome}"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="inbound messages per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds counted")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds not counted")
    parser.add_argument("--contacts", type=int, default=50, help="customers writing in turn")
    parser.add_argument("--concurrency", type=int, default=8, help="the worker's threads")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait at the end")
    parser.add_argument("--via", choices=["auto", "socket", "stream"], default="auto")
    parser.add_argument("--json-out", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.warmup < 0:
        parser.error("--rate and --duration must be positive, --warmup not negative")
    if args.contacts < 1 or args.concurrency < 1:
        parser.error("--contacts and --concurrency must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, ws.raise_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        result = run(args, Path(tmp))
    print()
    print(table(result))
    print()
    print(verdict(result, args))
    print(f"CPU over the whole run, {ws.cpu_note(result['cores'])}")
    if args.json_out:
        config = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        report = {"date": datetime.now(UTC).isoformat(), "config": config, "results": result}
        args.json_out.write_text(json.dumps(report, indent=1) + "\n")
    return 1 if invalid(result) else 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        sys.exit("bench: interrupted; everything it started has been stopped.")
