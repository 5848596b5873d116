"""What one WhatsApp send costs the database: commands per message and the database
server's CPU per message, for the API's `POST /api/v1/messages` (queueing) and for the
send job's work (`DeliverOutboundMessage`), in one process.

    uv run --frozen python bench/send_costs.py [--messages 200] [--rounds 3]
                                               [--concurrency 8] [--prefill 0]

Starts its own SecantusDB (standalone, in memory) and Redis, the tests' fake Graph API
answering after 100 ms, and a tenant with a WhatsApp channel (as `bench/sends.py` does),
then runs Parley's app in this process (its real lifespan; requests through httpx's ASGI
transport). Each round POSTs `--messages` templates to distinct numbers (`--concurrency`
at a time), then runs the send job's use case for each (`--concurrency` at a time, as the
worker's threads share one event loop). A pymongo `CommandListener` counts every command
each phase issues, by command and filter shape, and the database server's CPU seconds
(`/proc`, user + system) are read before and after each phase: counts and CPU per
message, which a loaded machine skews far less than a rate. `--prefill` first stores that
many other messages in the collection (to see what grows with its size).
See bench/README.md ("sends.py").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import whatsapp_stack as ws
from bson import ObjectId
from pymongo import monitoring

from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.deliver_outbound_message import (
    DeliverOutboundMessage,
    DeliveryOutcome,
)
from tests.support.app import serve

TEMPLATE = {"name": "order_update", "language": "en_US"}
_phase: contextvars.ContextVar[str] = contextvars.ContextVar("bench_phase", default="other")
_SKIP = {"lsid", "$db", "$clusterTime", "txnNumber", "writeConcern", "readConcern", "comment"}


def shape(value: Any) -> Any:
    """A filter or update with its values replaced by their types' names."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {shape(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(sorted({str(shape(v)) for v in value})) + "]"
    return type(value).__name__


def describe(name: str, command: Any) -> str:
    """The command by name, collection and the shape of what decides its cost."""
    collection = command.get(name)
    parts = [f"{name} {collection}"]
    if name == "find":
        parts.append(f"filter {shape(command.get('filter', {}))}")
        if "sort" in command:
            parts.append(f"sort {shape(command['sort'])}")
    elif name in ("update", "delete"):
        for statement in command.get("updates", command.get("deletes", []))[:1]:
            parts.append(f"q {shape(statement.get('q', {}))}")
            if "u" in statement:
                parts.append(f"u {shape(statement['u'])}")
            if statement.get("upsert"):
                parts.append("upsert")
    elif name in ("findAndModify", "count", "aggregate", "distinct"):
        parts.append(f"{shape(command.get('query', command.get('pipeline', {})))}")
    elif name == "insert":
        parts.append(f"x{len(command.get('documents', []))}")
    return " ".join(parts)


class Commands(monitoring.CommandListener):
    """Every command started, counted by the phase that issued it (a context variable,
    which pymongo's async client sees in the task that awaits the operation)."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = {}
        self.millis: dict[str, Counter[str]] = {}
        self._started: dict[int, tuple[str, str]] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        phase = _phase.get()
        what = describe(event.command_name, event.command)
        self.counts.setdefault(phase, Counter())[what] += 1
        self._started[event.request_id] = (phase, what)

    def _ended(self, request_id: int, micros: int) -> None:
        phase, what = self._started.pop(request_id, ("other", "?"))
        self.millis.setdefault(phase, Counter())[what] += micros

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._ended(event.request_id, event.duration_micros)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._ended(event.request_id, event.duration_micros)

    def take(self, phase: str) -> tuple[Counter[str], Counter[str]]:
        return self.counts.pop(phase, Counter()), self.millis.pop(phase, Counter())


def recipient(index: int) -> str:
    return "+" + ws.customer_phone(index % 100000)


async def prefill(container: Any, seeded: ws.Seeded, count: int) -> None:
    """`count` sent outbound messages of other conversations, straight into the collection."""
    from api.infrastructure.persistence.messaging.messages import MessageDocument

    collection = MessageDocument.get_pymongo_collection()
    now = datetime.now(UTC)
    for start in range(0, count, 1000):
        batch = [
            {"_id": ObjectId(), "tenant_id": seeded.tenant_id, "conversation_id": str(ObjectId()),
             "channel_id": seeded.channel_id, "direction": "outbound", "type": "template",
             "content": {"template": TEMPLATE}, "sender": {"type": "agent"}, "status": "sent",
             "status_rank": 2, "status_timestamps": {"queued": now, "sent": now},
             "external_id": f"wamid.prefill{start + i}", "created_at": now}
            for i in range(min(1000, count - start))
        ]  # fmt: skip
        await collection.insert_many(batch)


def print_phase(title: str, messages: int, counts: Counter[str], millis: Counter[str]) -> None:
    total = sum(counts.values())
    print(f"\n{title}: {total} commands for {messages} messages = {total / messages:.2f} a message")
    for what, n in counts.most_common():
        print(f"  {n / messages:6.2f}/msg  {millis[what] / n / 1000:7.2f} ms each  {what}")


async def measure(stack: ws.Stack, seeded: ws.Seeded, args: argparse.Namespace) -> list[str]:
    listener = Commands()
    monitoring.register(listener)  # for the clients made from now on
    db_pid = stack.groups["db"]
    rows: list[str] = []
    async with serve(stack.parley_settings) as client:
        await ws.sign_in_owner(client, seeded.tenant_id)
        deliver: DeliverOutboundMessage = client.container.resolve(DeliverOutboundMessage)
        if args.prefill:
            with tenant_context(TenantId(seeded.tenant_id)):
                await prefill(client.container, seeded, args.prefill)
        gate = asyncio.Semaphore(args.concurrency)
        offset = 0
        for round_no in range(0, args.rounds + 1):  # round 0: warm-up, not reported
            count = args.messages if round_no else 20
            ids: list[str] = []

            async def post(index: int, ids: list[str]) -> None:
                _phase.set("queue")
                body = {"channel_id": seeded.channel_id, "to": recipient(index),
                        "type": "template", "template": TEMPLATE}  # fmt: skip
                async with gate:
                    answer = await client.post("/api/v1/messages", json=body)
                if answer.status_code != 202:
                    raise RuntimeError(f"POST /messages: {answer.status_code} {answer.text}")
                ids.append(answer.json()["id"])

            async def send(message_id: str) -> None:
                _phase.set("send")
                with tenant_context(TenantId(seeded.tenant_id)):
                    async with gate:
                        outcome = await deliver.execute(message_id, final_attempt=False)
                if outcome is not DeliveryOutcome.SENT:
                    raise RuntimeError(f"message {message_id}: {outcome}")

            listener.take("queue"), listener.take("send"), listener.take("other")
            cpu = ws.group_cpu_seconds(db_pid)
            started = time.perf_counter()
            await asyncio.gather(*(post(offset + i, ids) for i in range(count)))
            queue_wall = time.perf_counter() - started
            queue_cpu = ws.group_cpu_seconds(db_pid) - cpu
            queued = listener.take("queue")
            background = sum(listener.take("other")[0].values())
            cpu, own = ws.group_cpu_seconds(db_pid), time.process_time()
            started = time.perf_counter()
            await asyncio.gather(*(send(i) for i in ids))
            send_wall = time.perf_counter() - started
            send_cpu = ws.group_cpu_seconds(db_pid) - cpu
            send_own = time.process_time() - own
            sent = listener.take("send")
            background += sum(listener.take("other")[0].values())
            offset += count
            if not round_no:
                continue
            rows.append(
                f"| {round_no} | {offset + args.prefill} "
                f"| {sum(queued[0].values()) / count:.2f} | {queue_cpu * 1000 / count:.2f} "
                f"| {count / queue_wall:.0f} "
                f"| {sum(sent[0].values()) / count:.2f} | {send_cpu * 1000 / count:.2f} "
                f"| {send_own * 1000 / count:.2f} | {count / send_wall:.0f} | {background} |"
            )
            if round_no == args.rounds:
                print_phase("POST /api/v1/messages (last round)", count, *queued)
                print_phase("DeliverOutboundMessage (last round)", count, *sent)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200, help="messages per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--prefill", type=int, default=0, help="other messages stored first")
    parser.add_argument("--delay", type=float, default=0.1, help="the fake Graph's delay (s)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, ws.raise_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp, contextlib.ExitStack() as es:
        stack = ws.start_stack(Path(tmp), es, MONGO_CREATE_INDEXES="true")
        graph = ws.start_fake_graph(stack, args.delay)
        seeded = asyncio.run(ws.seed_channel(stack.parley_settings, graph.url, 1000))
        ws.say(f"load average before the rounds: {ws.load_average()}")
        rows = asyncio.run(measure(stack, seeded, args))
    print()
    print(
        "| round | messages stored after | queue: commands/msg | queue: DB CPU ms/msg "
        "| queue: msg/s | send: commands/msg | send: DB CPU ms/msg "
        "| send: this process's CPU ms/msg | send: msg/s | other commands meanwhile |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print(f"\nload average after: {ws.load_average()}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        sys.exit("bench: interrupted; everything it started has been stopped.")
