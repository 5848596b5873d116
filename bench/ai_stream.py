"""AI streaming through Parley against the same fake model consumed directly, in one run.

    uv run --frozen python bench/ai_stream.py [--tokens 200] [--sequential 20]
                                              [--concurrent 50] [--rounds 3] [--no-pin]

Starts its own SecantusDB and Redis (free ports), the fake LLM server of the tests
(`tests/support/fake_llm.py`, Ollama's NDJSON format, `--tokens` tokens per reply as fast as it
can) as its own process, and Parley (one uvicorn worker, `OLLAMA_HOST` pointing at the
fake, `LOOP_BLOCK_WARN_MS=50`). Then, in interleaved rounds, four ways of reading the same
reply: directly from the fake (`POST /api/chat`), through LangChain's
`ChatOllama.astream()` in this process ("langchain only", #17's yardstick), through the
model's own chunk stream that `astream()` wraps (`_astream`, "langchain chunks": what
Parley reads), and through Parley (`POST /api/v1/ai/ask`, SSE):

- sequential streams, one at a time: time to first token (request sent -> first token
  parsed) and tokens/s of each stream;
- `--concurrent` streams at once: aggregate tokens/s, the median stream's tokens/s, and
  the CPU per stream of the process doing the work (Parley's; this one for LangChain).

With two CPUs or more (unless `--no-pin`), that process runs alone on CPU 0 and every other
process (the fake, SecantusDB, Redis, and this one when it is only a client) on CPU 1, so
Parley's process and LangChain's get one CPU each, and the same one.

Prints medians, the ratios, the goal verdicts (TTFT within 20 ms of direct; at 50
concurrent streams >= 80% of direct's tokens/s (#6) and of LangChain only's (#17); no
event-loop stall > 50 ms in Parley) and the stalls Parley's loop monitor logged. See
`bench/README.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
for _path in (REPO, REPO / "scripts"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import devservers  # noqa: E402 - found through the path set just above
from auth import (  # noqa: E402
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    UNLIMITED,
    onboard,
)
from tenant_read import (  # noqa: E402
    HOST,
    TIMES,
    Uvicorn,
    _raise_on_sigterm,
    parley_env,
    running_stack,
    start_uvicorn,
    wait_until_answers,
)

MODEL = "bench:latest"
KINDS = ("direct", "langchain", "chunks", "parley")
# With --pin: the process doing a stream's work (Parley's; this one for LangChain) on the
# first CPU this process may use, everything else (the fake model, the database, Redis,
# this process as the HTTP client of Parley and of the fake) on the second.
CPUS = sorted(os.sched_getaffinity(0))
WORK_CPU, REST_CPU = (CPUS[0], CPUS[1]) if len(CPUS) >= 2 else (CPUS[0], CPUS[0])
GOAL_TTFT_MS = 20.0
GOAL_THROUGHPUT = 0.80
GOAL_STALL_MS = 50.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STALL_LINE = re.compile(r"event loop blocked for (\d+) ms")
PROMPT = "Count to two hundred, please."


@dataclass
class Stream:
    ttft_ms: float
    tokens: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


async def direct_stream(http: httpx.AsyncClient, url: str) -> Stream:
    body = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "stream": True}
    started = time.perf_counter()
    first = 0.0
    tokens = 0
    async with http.stream("POST", f"{url}/api/chat", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line:
                continue
            part = json.loads(line)
            if part.get("message", {}).get("content"):
                tokens += 1
                if tokens == 1:
                    first = time.perf_counter()
    ended = time.perf_counter()
    return Stream((first - started) * 1000, tokens, ended - started)


async def langchain_stream(chat: Any, *, own_chunks: bool = False) -> Stream:
    """The fake read through LangChain in this process (no HTTP server, no database):
    `ChatOllama.astream()`, what the library Parley must use costs by itself; with
    `own_chunks`, the model's own chunk stream that `astream()` wraps (`_astream`), as
    Parley reads it (`api.infrastructure.ai.base.model_chunks`)."""
    from langchain_core.messages import HumanMessage

    prompt = [HumanMessage(PROMPT)]
    started = time.perf_counter()
    first = 0.0
    tokens = 0
    async for chunk in chat._astream(prompt) if own_chunks else chat.astream(prompt):
        if (chunk.message if own_chunks else chunk).content:
            tokens += 1
            if tokens == 1:
                first = time.perf_counter()
    ended = time.perf_counter()
    return Stream((first - started) * 1000, tokens, ended - started)


async def parley_stream(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> Stream:
    started = time.perf_counter()
    first = 0.0
    tokens = 0
    event = ""
    async with http.stream(
        "POST", f"{url}/api/v1/ai/ask", json={"message": PROMPT, "model": MODEL}, headers=headers
    ) as response:
        if response.status_code != 200:
            await response.aread()
            raise RuntimeError(f"ask answered {response.status_code}: {response.text[:300]}")
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "token":
                json.loads(line[6:])
                tokens += 1
                if tokens == 1:
                    first = time.perf_counter()
            elif line.startswith("data: ") and event == "error":
                raise RuntimeError(f"the stream failed: {line}")
    ended = time.perf_counter()
    return Stream((first - started) * 1000, tokens, ended - started)


@dataclass
class Round:
    ttft_ms: float
    rate: float  # per stream, sequential
    aggregate: float  # tokens/s over all concurrent streams
    concurrent_rate: float  # the median concurrent stream's tokens/s
    concurrent_ttft_ms: float
    cpu_ms: float  # CPU per concurrent stream of the process doing the work (0: not read)


def pin(pid: int, cpu: int) -> None:
    """Every thread of process `pid` onto CPU `cpu` (affinity is per thread)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), {cpu})


def descendants(pid: int) -> list[int]:
    """The processes started, directly or not, by process `pid`."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def pin_servers(parley_pid: int) -> None:
    """Parley (and anything it started) on the work CPU, every other server on the other."""
    parley = {parley_pid, *descendants(parley_pid)}
    for pid in descendants(os.getpid()):
        with contextlib.suppress(OSError):
            pin(pid, WORK_CPU if pid in parley else REST_CPU)


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (`/proc/<pid>/stat`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def measure(
    kind: str, run: Any, args: argparse.Namespace, cpu: Callable[[], float] | None = None
) -> Round:
    """`cpu`: the seconds of CPU used so far by whoever does the work of `kind`'s streams
    (Parley's process; for LangChain only, this one), read around the concurrent ones."""
    sequential = [await run() for _ in range(args.sequential)]
    cpu_before = cpu() if cpu else 0.0
    started = time.perf_counter()
    concurrent = await asyncio.gather(*(run() for _ in range(args.concurrent)))
    wall = time.perf_counter() - started
    cpu_used = cpu() - cpu_before if cpu else 0.0
    for stream in (*sequential, *concurrent):
        if stream.tokens != args.tokens:
            raise RuntimeError(f"{kind}: a stream gave {stream.tokens} tokens, not {args.tokens}")
    return Round(
        ttft_ms=statistics.median(s.ttft_ms for s in sequential),
        rate=statistics.median(s.rate for s in sequential),
        aggregate=sum(s.tokens for s in concurrent) / wall,
        concurrent_rate=statistics.median(s.rate for s in concurrent),
        concurrent_ttft_ms=statistics.median(s.ttft_ms for s in concurrent),
        cpu_ms=cpu_used * 1000 / args.concurrent,
    )


async def load(
    args: argparse.Namespace,
    llm_url: str,
    parley_url: str,
    headers: dict[str, str],
    parley_pid: int | None = None,
) -> dict[str, list[Round]]:
    limits = httpx.Limits(
        max_connections=args.concurrent + 5, max_keepalive_connections=args.concurrent + 5
    )
    results: dict[str, list[Round]] = {name: [] for name in KINDS}
    from langchain_ollama import ChatOllama

    chat = ChatOllama(model=MODEL, base_url=llm_url)
    runs: dict[str, Callable[[httpx.AsyncClient], Awaitable[Stream]]] = {
        "direct": lambda http: direct_stream(http, llm_url),
        "langchain": lambda http: langchain_stream(chat),
        "chunks": lambda http: langchain_stream(chat, own_chunks=True),
        "parley": lambda http: parley_stream(http, parley_url, headers),
    }

    cpus: dict[str, Callable[[], float]] = {
        "langchain": time.process_time,
        "chunks": time.process_time,
    }
    if parley_pid is not None:
        cpus["parley"] = lambda: process_cpu_seconds(parley_pid)

    async def measured(kind: str) -> Round:
        # A fresh client each time: uvicorn closes connections idle for 5 s, and reusing
        # one it just closed fails the request (a ReadError on the client, not Parley's).
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            await runs[kind](http)  # warm-up: connections, model lists, code paths
            return await measure(kind, lambda: runs[kind](http), args, cpus.get(kind))

    for number in range(1, args.rounds + 1):
        log(f"round {number}/{args.rounds}")
        for kind in runs:
            log(f"  {kind}")
            if args.pin:  # this process does the work of LangChain's kinds, else it is a client
                pin(os.getpid(), WORK_CPU if kind in ("langchain", "chunks") else REST_CPU)
            results[kind].append(await measured(kind))
    return results


def start_fake_llm(work: Path, tokens: int) -> tuple[subprocess.Popen[bytes], str]:
    port = devservers.free_port()
    log_file = (work / "fake_llm.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.fake_llm",
            "--port",
            str(port),
            "--tokens",
            str(tokens),
        ],
        cwd=REPO,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    devservers.wait_for_port(HOST, port, timeout=30)
    return process, f"http://{HOST}:{port}"


def stalls(server: Uvicorn) -> list[int]:
    text = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
    return [int(m.group(1)) for m in STALL_LINE.finditer(text)]


def median_round(rounds: list[Round], name: str) -> float:
    return float(statistics.median(float(getattr(r, name)) for r in rounds))


def report(results: dict[str, list[Round]], stall_ms: list[int], args: argparse.Namespace) -> str:
    direct, chain, chunks = results["direct"], results["langchain"], results["chunks"]
    parley = results["parley"]
    rows = [
        ("TTFT p50, sequential (ms)", "ttft_ms"),
        ("tokens/s per stream, sequential", "rate"),
        (f"tokens/s aggregate, {args.concurrent} concurrent", "aggregate"),
        (f"tokens/s per stream, {args.concurrent} concurrent", "concurrent_rate"),
        (f"TTFT p50, {args.concurrent} concurrent (ms)", "concurrent_ttft_ms"),
    ]
    lines = [
        "| measure | direct | langchain only | langchain chunks | parley | parley/direct "
        "| parley/langchain | parley/chunks |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, name in rows:
        d, c, k, p = (median_round(r, name) for r in (direct, chain, chunks, parley))
        ratios = f"{p / d:.2f}{TIMES} | {p / c:.2f}{TIMES} | {p / k:.2f}{TIMES}"
        lines.append(f"| {label} | {d:,.1f} | {c:,.1f} | {k:,.1f} | {p:,.1f} | {ratios} |")
    ttft_gap = median_round(parley, "ttft_ms") - median_round(direct, "ttft_ms")
    ratio = median_round(parley, "aggregate") / median_round(direct, "aggregate")
    chain_ratio = median_round(parley, "aggregate") / median_round(chain, "aggregate")
    worst = max(stall_ms, default=0)
    parley_cpu, chain_cpu = median_round(parley, "cpu_ms"), median_round(chain, "cpu_ms")
    chunks_cpu = median_round(chunks, "cpu_ms")
    lines += [
        "",
        "CPUs: "
        + (
            f"pinned (Parley's process, or this one for LangChain's ways, on CPU {WORK_CPU}; "
            f"the rest on CPU {REST_CPU})"
            if args.pin
            else "shared by every process"
        ),
        f"CPU per stream at {args.concurrent} concurrent: Parley's process {parley_cpu:.2f} ms, "
        f"LangChain only (this process, its HTTP client included) {chain_cpu:.2f} ms"
        + (f" ({chain_cpu / parley_cpu:.2f}{TIMES})" if parley_cpu else "")
        + f", LangChain's chunks {chunks_cpu:.2f} ms"
        + (f" ({chunks_cpu / parley_cpu:.2f}{TIMES})" if parley_cpu else ""),
        f"TTFT: Parley +{ttft_gap:.1f} ms over direct (goal <= {GOAL_TTFT_MS:g} ms): "
        + ("PASS" if ttft_gap <= GOAL_TTFT_MS else "MISSED"),
        f"throughput at {args.concurrent} streams: {ratio:.2f}{TIMES} direct (#6's goal >= "
        f"{GOAL_THROUGHPUT:.2f}): " + ("PASS" if ratio >= GOAL_THROUGHPUT else "MISSED"),
        f"throughput at {args.concurrent} streams: {chain_ratio:.2f}{TIMES} LangChain only "
        f"(#17's goal >= {GOAL_THROUGHPUT:.2f}): "
        + ("PASS" if chain_ratio >= GOAL_THROUGHPUT else "MISSED"),
        f"event loop: {len(stall_ms)} stalls over {GOAL_STALL_MS:g} ms logged by Parley"
        + (f" (worst {worst} ms)" if stall_ms else "")
        + (": PASS" if not stall_ms else ": MISSED"),
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--sequential", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parley-log", type=Path, help="keep Parley's log here")
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=len(CPUS) >= 2,
        help="the working process on one CPU, the rest on another (default: with 2 CPUs)",
    )
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="parley-bench-ai-") as tmp:
        work = Path(tmp)
        with running_stack(work) as stack, contextlib.ExitStack() as cleanup:
            fake, llm_url = start_fake_llm(work, args.tokens)
            cleanup.callback(devservers.stop_process_group, fake, 10.0)
            env = {
                **parley_env(stack, "5"),
                "ADMIN_EMAIL": ADMIN_EMAIL,
                "ADMIN_PASSWORD": ADMIN_PASSWORD,
                "ACCESS_TOKEN_TTL_SECONDS": "3600",
                "LOGIN_RATE_PER_IP": UNLIMITED,
                "LOGIN_RATE_PER_ACCOUNT": UNLIMITED,
                "OLLAMA_HOST": llm_url,
                "AI_MODELS_CACHE_SECONDS": "30",
                "LOOP_BLOCK_WARN_MS": str(GOAL_STALL_MS),
            }
            parley = start_uvicorn(
                "parley", ["api.main:create_app", "--factory", "--app-dir", str(REPO)], env, work
            )
            stack.servers["parley"] = parley
            wait_until_answers(parley, "/health")
            if args.pin:
                pin_servers(parley.process.pid)
            identity = onboard(parley.port, 0)
            log(
                f"{args.rounds} rounds of {args.sequential} sequential + {args.concurrent} "
                f"concurrent streams of {args.tokens} tokens, each way"
            )
            results = asyncio.run(
                load(
                    args,
                    llm_url,
                    f"http://{HOST}:{parley.port}",
                    identity.owner_headers,
                    parley.process.pid,
                )
            )
            stall_ms = stalls(parley)
            if args.parley_log:
                shutil.copyfile(parley.log_path, args.parley_log)
    print()
    print(report(results, stall_ms, args))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        sys.exit("bench: interrupted; everything it started has been stopped.")
