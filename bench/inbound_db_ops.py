"""The database commands one inbound WhatsApp message costs, end to end: by collection and
command, how many per message and how long they took in the server (its profiler).

    uv run --frozen python bench/inbound_db_ops.py [--messages 40] [--contacts 10]

Starts its own SecantusDB (standalone, in memory) and Redis, a tenant with a WhatsApp
channel, Parley's API and one Celery worker, as `bench/inbound_e2e.py` does. A warm-up
message from each of `--contacts` customers first (their contacts and conversations are
created then: the counted messages are the common case, a customer writing again), then
the server's profiler records every command (level 2) while `--messages` messages are
POSTed one after another, each waited for until it reaches the inbox (its
`message.created` in the tenant's Redis stream: the bench sends no database command). Prints one
row per (collection, command, filter keys): commands per message and server milliseconds
per message, heaviest first. A diagnostic, no goal: where the database time of the
inbound path goes (the profiler's own writes add to the server's load, not to the rows).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import whatsapp_stack as ws
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from api.infrastructure.realtime.streams import stream_key

PROCESSED_TIMEOUT = 120.0
SETTLE_SECONDS = 2.0


def shape(command: dict[str, Any]) -> tuple[str, str, str]:
    """(collection, command, filter keys) of a profiled command."""
    name = next(iter(command), "?")
    collection = command.get(name)
    target = collection if isinstance(collection, str) else "-"
    filters: Any = None
    if name in ("find", "count", "countDocuments", "delete", "findAndModify", "distinct"):
        filters = command.get("filter") or command.get("query")
        if name == "delete":
            filters = (command.get("deletes") or [{}])[0].get("q")
    elif name == "update":
        filters = (command.get("updates") or [{}])[0].get("q")
    elif name == "aggregate":
        stages = command.get("pipeline") or []
        first = stages[0] if stages else {}
        filters = first.get("$match") if isinstance(first, dict) else None
    keys = ",".join(sorted(filters)) if isinstance(filters, dict) else ""
    return target, name, keys


async def post(http: httpx.AsyncClient, path: str, wamid: str, customer: int) -> None:
    body = ws.text_body(wamid, customer, f"Is my order ready? ({wamid})", int(time.time()))
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": ws.signature(body)}
    answer = await http.post(path, content=body, headers=headers)
    answer.raise_for_status()


class Stream:
    """The tenant's event stream in Redis: the bench waits there (not on the database,
    whose commands it counts) for each message's `message.created`."""

    def __init__(self, redis: Redis, tenant_id: str) -> None:
        self._redis, self._key, self._last = redis, stream_key(tenant_id), "0"

    async def created(self, wamid: str) -> None:
        deadline = time.monotonic() + PROCESSED_TIMEOUT
        while time.monotonic() < deadline:
            answer: Any = await self._redis.xread({self._key: self._last}, block=500)
            for _, entries in answer or []:
                for entry_id, fields in entries:
                    self._last = entry_id
                    event = (fields.get(b"event") or b"").decode()
                    if '"message.created"' in event and wamid in event:
                        return
        raise RuntimeError(f"{wamid} did not reach the inbox in {PROCESSED_TIMEOUT:.0f} s")


async def measure(
    base_url: str, mongo_url: str, redis_url: str, tenant_id: str, path: str,
    args: argparse.Namespace,
) -> list[dict[str, Any]]:  # fmt: skip
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    database = client[ws.DB_NAME]
    redis = Redis.from_url(redis_url)
    stream = Stream(redis, tenant_id)
    prefix = uuid.uuid4().hex[:8]
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            for customer in range(args.contacts):
                wamid = f"wamid.WARM{prefix}.{customer}"
                await post(http, path, wamid, customer)
                await stream.created(wamid)
            await asyncio.sleep(SETTLE_SECONDS)  # the warm-up's last jobs end unrecorded
            await database.command({"profile": 2, "slowms": 0})
            for i in range(args.messages):
                wamid = f"wamid.BENCH{prefix}.{i}"
                await post(http, path, wamid, i % args.contacts)
                await stream.created(wamid)
            await asyncio.sleep(SETTLE_SECONDS)  # what the last message set off ends
            await database.command({"profile": 0})
            return await database["system.profile"].find({}).to_list(None)
    finally:
        await client.close()
        await redis.aclose()


def table(entries: Sequence[dict[str, Any]], messages: int) -> str:
    counts: Counter[tuple[str, str, str]] = Counter()
    millis: Counter[tuple[str, str, str]] = Counter()
    for entry in entries:
        command = entry.get("command") or {}
        key = shape(command)
        if key[0] in ("system.profile", "-") and key[1] in ("find", "profile", "-"):
            continue
        counts[key] += 1
        millis[key] += int(entry.get("millis") or 0)
    lines = [
        "| collection | command | filter keys | per message | server ms per message |",
        "|---|---|---|---:|---:|",
    ]
    for key, total in sorted(millis.items(), key=lambda kv: (-kv[1], -counts[kv[0]])):
        collection, name, keys = key
        lines.append(
            f"| {collection} | {name} | {keys or '-'} | {counts[key] / messages:.2f} | "
            f"{total / messages:.2f} |"
        )
    lines.append(
        f"| all | | | {sum(counts.values()) / messages:.2f} | "
        f"{sum(millis.values()) / messages:.2f} |"
    )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=40, help="messages counted")
    parser.add_argument("--contacts", type=int, default=10, help="customers writing in turn")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.contacts < 1:
        parser.error("--messages and --contacts must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp,
        contextlib.ExitStack() as cleanup,
    ):
        stack = ws.start_stack(Path(tmp), cleanup)
        seeded = asyncio.run(ws.seed_channel(stack.parley_settings, "http://graph.invalid", 80))
        parley = ws.start_parley(stack)
        worker = ws.start_worker(stack)
        path = ws.webhook_path(seeded.channel_id)
        ws.say(f"{args.contacts} warm-up messages, then {args.messages} profiled")
        entries = asyncio.run(
            measure(parley.url, stack.mongo_url, stack.redis_url, seeded.tenant_id, path, args)
        )
        worker.check_alive()
    print()
    print(table(entries, args.messages))
    return 0


if __name__ == "__main__":
    ws.run_main(main)
