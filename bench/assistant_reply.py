"""An AI assistant's reply end to end: Meta's signed webhook POSTed to Parley until the
assistant's reply is sent to the (fake) Graph API, against the fake LLM's own time.

    uv run --frozen python bench/assistant_reply.py [--rate 2] [--duration 30] [--warmup 5]
                                                   [--tokens 50] [--token-delay 0.002]
                                                   [--concurrency 8]

Starts its own SecantusDB (standalone, in memory) and Redis on free ports, the tests' fake
LLM (`tests/support/fake_llm.py`, model `bench:latest` answering every tool call with
`--tokens` tokens, `--token-delay` s each) and fake Graph API as processes of their own,
Parley's API (one uvicorn worker) and one Celery worker (threads pool), a tenant with a
WhatsApp channel and an enabled assistant on it (model `bench:latest`, language "auto").
Then it POSTs signed text messages open-loop at `--rate` per second, each from a new
customer (so each opens a bot conversation and gets exactly one reply).

For every message: POST to the bot's reply `sent` (the `message.updated` entry of the
tenant's event stream saying the assistant's message is `sent`: the worker wrote it right
after the fake Graph API answered the send). The path: webhook, raw store, webhook job
(contact, conversation handled by the bot, message), reply job (ledger claim, language
detection, context, quota hold, the model's tool call, typing indicator, re-check,
queueing), send job (Graph call). The fake LLM reports its own time per call
(`/_fake/durations`, from the request's arrival to its answer); Parley's share is the
end-to-end figure less that. Messages of the first `--warmup` seconds are not counted
(they also load the language detector's models). A message not answered within
`--timeout` s makes the run INVALID. Everything it started is stopped on exit. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import whatsapp_stack as ws
from redis.asyncio import Redis

from api.domain.ai.assistants import Assistant, AssistantRepository
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.realtime.streams import stream_key
from api.wiring import running

GOAL_PARLEY_P50_MS = 150.0
MODEL = "bench:latest"


@dataclass
class Sent:
    wamid: str
    started: float
    status: int = 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((ws.HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def start_fake_llm(stack: ws.Stack, port: int, tokens: int, token_delay: float) -> ws.Process:
    argv = [sys.executable, "-m", "tests.support.fake_llm", "--host", ws.HOST]
    argv += ["--port", str(port), "--tokens", str(tokens), "--token-delay", str(token_delay)]
    server = stack.spawn("fake_llm", argv, port)
    ws.wait_until_answers(server, "/api/tags")
    return server


async def seed_assistant(stack: ws.Stack, seeded: ws.Seeded) -> None:
    async with running(stack.parley_settings) as container:
        with tenant_context(TenantId(seeded.tenant_id)):
            now = datetime.now(UTC)
            await container.resolve(AssistantRepository).add(
                Assistant(
                    name="Bench", model=MODEL, instructions="Answer the customers of Bench Corp.",
                    channel_ids=[seeded.channel_id], created_at=now, updated_at=now,
                )
            )  # fmt: skip


@dataclass
class Marks:
    """What the tenant's event stream told, with when this process read it."""

    conversations: dict[str, str]  # wamid -> conversation (the inbound `message.created`)
    stored_at: dict[str, float]  # conversation -> the inbound message stored
    queued_at: dict[str, float]  # conversation -> the bot's reply queued (`message.created`)
    sent_at: dict[str, float]  # conversation -> the bot's reply `sent`


async def listen(redis: Redis, tenant_id: str, marks: Marks, ready: asyncio.Event) -> None:
    key, last = stream_key(tenant_id), "$"
    ready.set()
    while True:
        answer: Any = await redis.xread({key: last}, block=1000, count=500)
        now = time.perf_counter()
        for _, entries in answer or []:
            for entry_id, fields in entries:
                last = entry_id
                raw = fields.get(b"event") or fields.get("event") or b""
                event = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
                data = event.get("data") or {}
                sender = (data.get("sender") or {}).get("type")
                kind, conversation = event.get("type"), event.get("conversation_id") or ""
                if kind == "message.created" and sender == "contact":
                    marks.conversations[data.get("external_id") or ""] = conversation
                    marks.stored_at.setdefault(conversation, now)
                elif kind == "message.created" and sender == "bot":
                    marks.queued_at.setdefault(conversation, now)
                elif kind == "message.updated" and sender == "bot" and data.get("status") == "sent":
                    marks.sent_at.setdefault(conversation, now)


async def post_one(http: httpx.AsyncClient, path: str, sent: Sent, customer: int) -> None:
    body = ws.text_body(
        sent.wamid, customer, "Hello, what time do you open tomorrow?", int(time.time())
    )
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": ws.signature(body)}
    sent.started = time.perf_counter()
    try:
        sent.status = (await http.post(path, content=body, headers=headers)).status_code
    except httpx.HTTPError:
        sent.status = -1


async def measure(
    base_url: str, llm_url: str, seeded: ws.Seeded, args: argparse.Namespace
) -> tuple[list[Sent], Marks, list[float]]:
    marks = Marks({}, {}, {}, {})
    redis = Redis.from_url(args.redis_url)
    ready = asyncio.Event()
    listener = asyncio.create_task(listen(redis, seeded.tenant_id, marks, ready))
    await ready.wait()
    path = ws.webhook_path(seeded.channel_id)
    prefix = uuid.uuid4().hex[:10]
    total = round(args.rate * (args.warmup + args.duration))
    messages = [Sent(f"wamid.BENCH{prefix}.{i}", 0.0) for i in range(total)]
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            ws.say(f"sending {args.rate:g} messages/s for {args.warmup + args.duration:g} s")
            tasks = []
            t0 = time.perf_counter()
            for i, sent in enumerate(messages):
                delay = t0 + i / args.rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(post_one(http, path, sent, 1000 + i)))
            await asyncio.gather(*tasks)
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                if all(marks.conversations.get(m.wamid) in marks.sent_at for m in messages):
                    break
                await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=llm_url, timeout=10) as llm:
            durations = (await llm.get("/_fake/durations")).json()["durations_ms"]
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await redis.aclose()
    return messages, marks, durations


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    with contextlib.ExitStack() as cleanup:
        llm_port = free_port()
        llm_url = f"http://{ws.HOST}:{llm_port}"
        stack = ws.start_stack(work, cleanup, OLLAMA_HOST=llm_url)
        args.redis_url = stack.redis_url
        start_fake_llm(stack, llm_port, args.tokens, args.token_delay)
        graph = ws.start_fake_graph(stack, 0.0)
        seeded = asyncio.run(ws.seed_channel(stack.parley_settings, graph.url, 80))
        asyncio.run(seed_assistant(stack, seeded))
        parley = ws.start_parley(stack)
        ws.say(f"starting one worker (threads pool, concurrency {args.concurrency})")
        worker = ws.start_worker(stack, concurrency=args.concurrency)
        ws.say(f"load average before the run: {ws.load_average()}")
        meter = ws.CpuMeter(stack.groups)
        meter.start()
        messages, marks, durations = asyncio.run(measure(parley.url, llm_url, seeded, args))
        cores = meter.stop()
        worker.check_alive()
    skip = round(args.rate * args.warmup)
    counted = messages[skip:]
    answered = [
        (m, marks.conversations[m.wamid])
        for m in counted
        if marks.conversations.get(m.wamid) in marks.sent_at
    ]
    end_to_end = [(marks.sent_at[c] - m.started) * 1000 for m, c in answered]
    stored = [(marks.stored_at[c] - m.started) * 1000 for m, c in answered]
    queued = [(marks.queued_at[c] - marks.stored_at[c]) * 1000 for _, c in answered
              if c in marks.queued_at]  # fmt: skip
    sending = [(marks.sent_at[c] - marks.queued_at[c]) * 1000 for _, c in answered
               if c in marks.queued_at]  # fmt: skip
    llm = durations[skip:] if len(durations) >= len(messages) else durations
    return {
        "stored_p50_ms": ws.percentile(stored, 50),
        "stored_p99_ms": ws.percentile(stored, 99),
        "reply_job_p50_ms": ws.percentile(queued, 50),
        "reply_job_p99_ms": ws.percentile(queued, 99),
        "send_p50_ms": ws.percentile(sending, 50),
        "send_p99_ms": ws.percentile(sending, 99),
        "sent": len(messages),
        "counted": len(counted),
        "answered": len(end_to_end),
        "failed_posts": sum(1 for m in messages if m.status != 200),
        "end_to_end_p50_ms": ws.percentile(end_to_end, 50),
        "end_to_end_p99_ms": ws.percentile(end_to_end, 99),
        "llm_p50_ms": ws.percentile(llm, 50),
        "llm_p99_ms": ws.percentile(llm, 99),
        "llm_calls": len(durations),
        "cores": cores,
    }


def invalid(result: dict[str, Any]) -> bool:
    return bool(result["failed_posts"]) or result["answered"] < result["counted"]


def report(result: dict[str, Any], args: argparse.Namespace) -> str:
    parley_p50 = result["end_to_end_p50_ms"] - result["llm_p50_ms"]
    parley_p99 = result["end_to_end_p99_ms"] - result["llm_p99_ms"]
    lines = [
        "| path | messages | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        f"| webhook POST to the bot's reply sent | {result['answered']}/{result['counted']} | "
        f"{result['end_to_end_p50_ms']:.1f} | {result['end_to_end_p99_ms']:.1f} |",
        f"| the fake LLM's own time ({args.tokens} tokens) | {result['llm_calls']} calls | "
        f"{result['llm_p50_ms']:.1f} | {result['llm_p99_ms']:.1f} |",
        f"| Parley's share (difference) | | {parley_p50:.1f} | {parley_p99:.1f} |",
        f"| of which: POST to the inbound stored (webhook job) | | "
        f"{result['stored_p50_ms']:.1f} | {result['stored_p99_ms']:.1f} |",
        f"| of which: stored to the reply queued (reply job, LLM included) | | "
        f"{result['reply_job_p50_ms']:.1f} | {result['reply_job_p99_ms']:.1f} |",
        f"| of which: queued to sent (send job) | | "
        f"{result['send_p50_ms']:.1f} | {result['send_p99_ms']:.1f} |",
    ]
    outcome = (
        "INVALID (failed or unanswered messages)"
        if invalid(result)
        else ("goal met" if parley_p50 < GOAL_PARLEY_P50_MS else "goal missed")
    )
    lines.append("")
    lines.append(
        f"Parley adds {parley_p50:.0f} ms at p50 (goal < {GOAL_PARLEY_P50_MS:.0f} ms) at "
        f"{args.rate:g} messages/s, one worker ({args.concurrency} threads): {outcome}"
    )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=2.0, help="inbound messages per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds counted")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds not counted")
    parser.add_argument("--tokens", type=int, default=50, help="tokens of each model answer")
    parser.add_argument("--token-delay", type=float, default=0.002, help="seconds per token")
    parser.add_argument("--concurrency", type=int, default=8, help="the worker's threads")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait at the end")
    parser.add_argument("--json-out", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.warmup < 0 or args.tokens < 1:
        parser.error("--rate, --duration and --tokens must be positive, --warmup not negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, ws.raise_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        result = run(args, Path(tmp))
    print()
    print(report(result, args))
    print(f"CPU over the whole run, {ws.cpu_note(result['cores'])}")
    if args.json_out:
        config = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        out = {"date": datetime.now(UTC).isoformat(), "config": config, "results": result}
        args.json_out.write_text(json.dumps(out, indent=1) + "\n")
    return 1 if invalid(result) else 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        sys.exit("bench: interrupted; everything it started has been stopped.")
