"""What one AI answer costs Parley: CPU per ask and per token, database and Redis commands
per ask, in one process, against LangChain alone.

    uv run --frozen python bench/ai_costs.py [--asks 40] [--concurrent 50] [--rounds 3]
                                             [--db-profile] [--profile PREFIX]

Starts its own SecantusDB (standalone, in memory) and Redis, the tests' fake LLM
(`tests/support/fake_llm.py`) as its own process (model `bench:latest`: 200 tokens,
`bench-short:latest`: 1 token), a tenant with its owner, then runs Parley's app in this
process (its real lifespan) and calls it as ASGI directly: no HTTP client and no server,
so this process's CPU is Parley's (the SSE bytes are only counted). Each round, for each
model, `--asks` asks one at a time, then `--concurrent` at once (a new conversation each),
then the same calls through `ChatOllama.astream()` alone (what the library costs by
itself). The CPU of this process (`time.process_time`), of the database server and of
the fake (`/proc`) per call, and every database command (pymongo `CommandListener`) and Redis
command (`INFO commandstats`) per ask. Per token is the difference of the 200-token and
1-token calls over 199; per ask, start and end, is what a 1-token ask costs. Figures per
call, which a loaded machine skews far less than a rate. `--profile` writes cProfile's
stats (CPU time) of sequential 1-token asks and of concurrent 200-token asks; `--db-profile`
prints SecantusDB's own profile of 1-token asks. See bench/README.md ("AI streaming").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import whatsapp_stack as ws
from pymongo import monitoring
from redis.asyncio import Redis
from send_costs import Commands, _phase

from api.usecases.tenants.create_tenant import CreateTenant
from api.usecases.tenants.rules import OPERATOR
from api.wiring import running
from tests.support.app import running_app

LONG, SHORT = "bench:latest", "bench-short:latest"
PROMPT = "Count to two hundred, please."


async def seed_owner(stack: ws.Stack) -> str:
    async with running(stack.parley_settings) as container:
        created = await container.resolve(CreateTenant).execute(
            OPERATOR, name="Bench AI", subdomain="bench-ai", owner_email=ws.OWNER_EMAIL,
            owner_full_name="Bench Owner", owner_password=ws.OWNER_PASSWORD,
        )  # fmt: skip
    return created.tenant.id or ""


class Asgi:
    """Calls the app as ASGI: the request in one `receive`, the answer's bytes counted."""

    def __init__(self, app: Any, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def call(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        status = 0
        chunks: list[bytes] = []
        disconnected = asyncio.Event()
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 40000),
            "headers": [*self.headers, (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode())],
        }  # fmt: skip
        try:
            await self.app(scope, receive, send)
        finally:
            disconnected.set()
        return status, b"".join(chunks)

    async def ask(self, model: str, tokens: int) -> None:
        body = json.dumps({"message": PROMPT, "model": model}).encode()
        status, answer = await self.call("POST", "/api/v1/ai/ask", body)
        got = answer.count(b"event: token\n")
        if status != 200 or got != tokens or b"event: done\n" not in answer:
            raise RuntimeError(f"ask: {status}, {got} tokens: {answer[-300:]!r}")


async def sign_in(asgi: Asgi, tenant_id: str) -> dict[str, str]:
    login = json.dumps({"email": ws.OWNER_EMAIL, "password": ws.OWNER_PASSWORD}).encode()
    asgi.headers = [(b"x-tenant-id", tenant_id.encode())]
    status, answer = await asgi.call("POST", "/api/v1/auth/login", login)
    if status != 200:
        raise RuntimeError(f"sign-in: {status} {answer!r}")
    token = json.loads(answer)["access_token"]
    return {"Authorization": f"Bearer {token}", "X-Tenant-ID": tenant_id}


async def redis_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


class Meter:
    """This process's CPU, the database's CPU, and the commands, over one phase."""

    def __init__(self, listener: Commands, redis: Redis, db_pid: int, fake_pid: int) -> None:
        self.listener, self.redis, self.db_pid, self.fake_pid = listener, redis, db_pid, fake_pid

    async def run(self, calls: int, work: Callable[[], Awaitable[None]]) -> dict[str, Any]:
        self.listener.take("ask")
        redis_before = await redis_calls(self.redis)
        db, fake = ws.group_cpu_seconds(self.db_pid), ws.group_cpu_seconds(self.fake_pid)
        own, wall = time.process_time(), time.perf_counter()
        await work()
        wall = time.perf_counter() - wall
        own = time.process_time() - own
        db = ws.group_cpu_seconds(self.db_pid) - db
        fake = ws.group_cpu_seconds(self.fake_pid) - fake
        redis = await redis_calls(self.redis) - redis_before - 1  # its own INFO
        counts, micros = self.listener.take("ask")
        return {
            "own_ms": own * 1000 / calls, "db_ms": db * 1000 / calls, "wall_s": wall,
            "fake_ms": fake * 1000 / calls,
            "mongo": sum(counts.values()) / calls, "redis": redis / calls, "commands": counts,
            "micros": micros,
        }  # fmt: skip


async def measure(stack: ws.Stack, tenant_id: str, args: argparse.Namespace) -> None:
    listener = Commands()
    monitoring.register(listener)
    redis = Redis.from_url(stack.redis_url)
    meter = Meter(listener, redis, stack.groups["db"], stack.groups["fake_llm"])
    from langchain_core.messages import HumanMessage
    from langchain_ollama import ChatOllama

    fake_url = stack.env["OLLAMA_HOST"]
    chats = {m: ChatOllama(model=m, base_url=fake_url) for m in (LONG, SHORT)}

    async with running_app(stack.parley_settings) as app:
        asgi = Asgi(app, {})
        asgi = Asgi(app, await sign_in(asgi, tenant_id))
        tokens = {LONG: args.tokens, SHORT: 1}

        async def parley(model: str) -> None:
            _phase.set("ask")
            await asgi.ask(model, tokens[model])

        async def langchain(model: str) -> None:
            got = 0
            async for chunk in chats[model].astream([HumanMessage(PROMPT)]):
                got += bool(chunk.content)
            if got != tokens[model]:
                raise RuntimeError(f"langchain: {got} tokens")

        ways: dict[str, Callable[[str], Awaitable[None]]] = {
            "parley": parley, "langchain": langchain,
        }  # fmt: skip
        for way in ways.values():  # warm-up
            for model in (LONG, SHORT):
                await way(model)
        rows: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for number in range(args.rounds):
            ws.say(f"round {number + 1}/{args.rounds} (load average {ws.load_average()})")
            for name, way in ways.items():
                for model in (LONG, SHORT):

                    async def sequential(way: Any = way, model: str = model) -> None:
                        for _ in range(args.asks):
                            await way(model)

                    async def concurrent(way: Any = way, model: str = model) -> None:
                        await asyncio.gather(*(way(model) for _ in range(args.concurrent)))

                    key = (name, model, "sequential")
                    rows.setdefault(key, []).append(await meter.run(args.asks, sequential))
                    key = (name, model, "concurrent")
                    rows.setdefault(key, []).append(await meter.run(args.concurrent, concurrent))
        if args.db_profile:
            await database_profile(stack, lambda: parley(SHORT), args.asks)
        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            for _ in range(args.asks):
                await parley(SHORT)
            profiler.disable()
            profiler.dump_stats(f"{args.profile}.short")
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            await asyncio.gather(*(parley(LONG) for _ in range(args.concurrent)))
            profiler.disable()
            profiler.dump_stats(f"{args.profile}.long")
    await redis.aclose()
    if rows:
        report(rows, args)


async def database_profile(stack: ws.Stack, ask: Callable[[], Awaitable[None]], asks: int) -> None:
    """SecantusDB's own profiler (level 2) over `asks` 1-token asks, one at a time: its
    time per operation, by operation and collection."""
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    database = client[ws.DB_NAME]
    await database.command("profile", 0)
    await database["system.profile"].drop()
    await database.command("profile", 2)
    for _ in range(asks):
        await ask()
    await database.command("profile", 0)
    totals: dict[str, list[float]] = {}
    async for entry in database["system.profile"].find():
        what = f"{entry.get('op')} {entry.get('ns', '').split('.', 1)[-1]}"
        totals.setdefault(what, []).append(float(entry.get("millis", 0)))
    await client.close()
    print(f"\nSecantusDB's profile of {asks} 1-token asks (its own time per operation):")
    for what, millis in sorted(totals.items(), key=lambda kv: -sum(kv[1])):
        print(f"  {len(millis) / asks:5.2f}/ask  {statistics.mean(millis):6.2f} ms each  {what}")


Rows = dict[tuple[str, str, str], list[dict[str, Any]]]


def report(rows: Rows, args: argparse.Namespace) -> None:
    def med(key: tuple[str, str, str], name: str) -> float:
        return float(statistics.median(r[name] for r in rows[key]))

    print(
        "\n| way | mode | model | this process CPU ms/call | DB CPU ms/call "
        "| fake LLM CPU ms/call | calls/s "
        "| mongo cmds/call | redis cmds/call |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for key, results in rows.items():
        way, model, mode = key
        calls = args.asks if mode == "sequential" else args.concurrent
        rate = statistics.median(calls / r["wall_s"] for r in results)
        figures = (
            " | ".join(f"{med(key, name):.2f}" for name in ("own_ms", "db_ms", "fake_ms"))
            + f" | {rate:.1f} | "
            + " | ".join(f"{med(key, name):.2f}" for name in ("mongo", "redis"))
        )
        print(f"| {way} | {mode} | {model} | {figures} |")
    print()
    for mode in ("sequential", "concurrent"):
        for way in ("parley", "langchain"):
            long, short = med((way, LONG, mode), "own_ms"), med((way, SHORT, mode), "own_ms")
            per_token = (long - short) / (args.tokens - 1) * 1000
            print(
                f"{way} {mode}: per call (1 token) {short:.2f} ms, "
                f"per further token {per_token:.1f} us"
            )
    last = rows[("parley", SHORT, "sequential")][-1]
    print(f"\ndatabase commands of the last round's {args.asks} sequential 1-token asks:")
    for what, n in last["commands"].most_common():
        each = last["micros"][what] / n / 1000
        print(f"  {n / args.asks:5.2f}/ask  {each:6.2f} ms each (round trip)  {what}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--asks", type=int, default=40, help="sequential asks per phase")
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument(
        "--db-profile", action="store_true", help="SecantusDB's profile of --asks 1-token asks"
    )
    parser.add_argument(
        "--profile",
        help="cProfile stats to PROFILE.short (--asks 1-token asks, one at a time) and "
        "PROFILE.long (--concurrent 200-token asks at once)",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, ws.raise_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp, contextlib.ExitStack() as es:
        port = ws.free_port()
        fake_url = f"http://{ws.HOST}:{port}"
        stack = ws.start_stack(Path(tmp), es, OLLAMA_HOST=fake_url, AI_MODELS_CACHE_SECONDS="30")
        argv_ = [sys.executable, "-m", "tests.support.fake_llm", "--host", ws.HOST]
        argv_ += ["--port", str(port), "--tokens", str(args.tokens)]
        ws.wait_until_answers(stack.spawn("fake_llm", argv_, port), "/api/tags")
        tenant_id = asyncio.run(seed_owner(stack))
        ws.say(f"load average before the rounds: {ws.load_average()}")
        asyncio.run(measure(stack, tenant_id, args))
    print(f"\nload average after: {ws.load_average()}")
    return 0


if __name__ == "__main__":
    ws.run_main(main)
