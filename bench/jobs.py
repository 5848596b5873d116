"""Background-job throughput of one Parley worker process, against bare Celery, in one run.

    uv run --frozen python bench/jobs.py [--tasks 5000] [--emails 1000] [--pool threads]
                                         [--concurrency 8]

Starts its own SecantusDB (standalone, in memory), Redis and an aiosmtpd sink (in this
process, on its own thread) on free ports, and two prefork workers (one pool process
each unless ``--concurrency`` says otherwise):

1. bare Celery: a minimal app defined here (``baseline_app``: same Redis broker and
   result backend, late acks, same prefetch, JSON; nothing else) with a no-op task;
2. Parley: ``api.worker:celery_app``, configured by environment like a deployment.

Both run N no-op tasks (``bench.noop`` / ``parley.ping``) in alternated rounds (only one
is loaded at a time; the other idles), so the ratio compares neighbours in time on this
noisy machine. The bare worker is then stopped, and Parley's worker delivers M emails
queued in this process through the real ``QueueEmail`` use case to the SMTP sink.

No-op throughput is timed from the first publish until every task's result is SUCCESS in
the result backend (its own Redis database, flushed before each round): ``DBSIZE`` is
polled every 20 ms (O(1)) until it counts N keys, then the N results are fetched with
``MGET`` (in chunks, usually once or twice) until all read SUCCESS. Emails are timed from
the first ``QueueEmail`` call until the sink holds M messages; then every recipient must
have exactly one message and every record ``status: "sent"``. Prints a markdown table.
Everything it started is stopped on exit, Ctrl-C and errors included. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from celery import Celery
from pymongo import MongoClient
from redis import Redis

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
for _path in (REPO, REPO / "scripts"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import devservers  # noqa: E402 - found through the path set just above

from api.config import (  # noqa: E402
    Environment,
    JobSettings,
    MongoSettings,
    RedisSettings,
    Settings,
    SmtpSettings,
)
from api.domain.email.messages import EmailTemplate  # noqa: E402
from api.domain.tenancy import TenantId, tenant_context  # noqa: E402
from api.infrastructure.jobs.celery_app import create_celery  # noqa: E402
from api.usecases.kernel.mailer import QueueEmail  # noqa: E402
from api.wiring import running  # noqa: E402
from tests.support.smtp import SmtpCapture, start_smtp  # noqa: E402

HOST = "127.0.0.1"
DB_NAME = "parley_bench"
SMTP_FROM = "bench@example.com"
PING_TASK = "parley.ping"
BASELINE_TASK = "bench.noop"
BASELINE_QUEUE = "bench_baseline"
RESULT_PREFIX = "celery-task-meta-"
POLL = 0.02
MGET_CHUNK = 1000
READY_TIMEOUT = 90.0
GOAL_TASKS = 300.0
GOAL_EMAILS = 100.0
DEFAULT_PREFETCH: int = JobSettings.model_fields["worker_prefetch_multiplier"].default


# -- the bare Celery baseline (imported by its worker as bench.jobs:baseline_app) --------


def make_baseline_app(broker: str, backend: str, prefetch: int) -> Celery:
    """Plain Celery with Parley's broker choices (late acks, prefetch, JSON) and nothing else."""
    app = Celery("bench_baseline", broker=broker, backend=backend)
    app.conf.update(
        task_default_queue=BASELINE_QUEUE,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        worker_prefetch_multiplier=prefetch,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    app.task(name=BASELINE_TASK)(noop)
    return app


def noop(echo: str | None = None) -> str | None:
    return echo


baseline_app = make_baseline_app(
    os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/1"),
    os.environ.get("BENCH_RESULT_BACKEND", "redis://127.0.0.1:6379/3"),
    int(os.environ.get("BENCH_PREFETCH", str(DEFAULT_PREFETCH))),
)


# -- servers and workers --------------------------------------------------------------------


@dataclass(frozen=True)
class Urls:
    mongo: str
    redis: str  # db 0: the application's keys (idempotency claims, caches)
    smtp_port: int

    def db(self, number: int) -> str:
        return f"{self.redis.rpartition('/')[0]}/{number}"

    @property
    def broker(self) -> str:
        return self.db(1)

    @property
    def results(self) -> str:
        return self.db(2)

    @property
    def baseline_results(self) -> str:
        return self.db(3)


@dataclass(frozen=True)
class Options:
    tasks: int
    emails: int
    pool: str
    concurrency: int
    prefetch: int
    publish_threads: int
    rounds: int
    warmup: int


def start_servers(stack: contextlib.ExitStack) -> tuple[Urls, SmtpCapture]:
    say("starting SecantusDB (standalone, in memory), Redis and the SMTP sink")
    mongo = devservers.start_mongo(standalone=True)
    stack.callback(mongo.stop)
    redis = devservers.start_redis()
    stack.callback(redis.stop)
    smtp_port = devservers.free_port()
    controller, capture = start_smtp(smtp_port)
    stack.callback(controller.stop)
    return Urls(mongo=mongo.url, redis=redis.url, smtp_port=smtp_port), capture


def parley_settings(urls: Urls, prefetch: int) -> Settings:
    """The settings of this process: the same servers as the worker's environment."""
    return Settings(
        environment=Environment.TEST,
        log_level="WARNING",
        mongo=MongoSettings(uri=urls.mongo, db_name=DB_NAME),
        redis=RedisSettings(url=urls.redis),
        jobs=JobSettings(
            celery_broker_url=urls.broker,
            celery_result_backend=urls.results,
            worker_prefetch_multiplier=prefetch,
        ),
        smtp=SmtpSettings(
            host=HOST,
            port=urls.smtp_port,
            starttls=False,
            ssl=False,
            validate_certs=False,
            from_address=SMTP_FROM,
        ),
    )


def parley_env(urls: Urls, prefetch: int) -> dict[str, str]:
    return {
        **os.environ,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
        "MONGO_URI": urls.mongo,
        "MONGO_DB_NAME": DB_NAME,
        "REDIS_URL": urls.redis,
        "CELERY_BROKER_URL": urls.broker,
        "CELERY_RESULT_BACKEND": urls.results,
        "SMTP_HOST": HOST,
        "SMTP_PORT": str(urls.smtp_port),
        "SMTP_STARTTLS": "false",
        "SMTP_SSL": "false",
        "SMTP_VALIDATE_CERTS": "false",
        "SMTP_FROM": SMTP_FROM,
        "WORKER_PREFETCH_MULTIPLIER": str(prefetch),
    }


def baseline_env(urls: Urls, prefetch: int) -> dict[str, str]:
    return {
        **os.environ,
        "BENCH_BROKER_URL": urls.broker,
        "BENCH_RESULT_BACKEND": urls.baseline_results,
        "BENCH_PREFETCH": str(prefetch),
    }


WorkerProcess = contextlib.AbstractContextManager[subprocess.Popen[bytes]]


@contextlib.contextmanager
def celery_worker(
    app_path: str, node: str, env: dict[str, str], options: Options, control: Celery
) -> Iterator[subprocess.Popen[bytes]]:
    """One worker in its own process group, ready (answers ping) when yielded."""
    concurrency = options.concurrency
    command = [sys.executable, "-m", "celery", "-A", app_path, "worker", f"--pool={options.pool}"]
    command += [f"--concurrency={concurrency}", "--loglevel=WARNING", "-n", f"{node}@%h"]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            cwd=REPO,  # `python -m` puts the repository first: `api` and `bench` import
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_worker(process, f"{node}@{socket.gethostname()}", control, log)
            yield process
        finally:
            devservers.stop_process_group(process, 30)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # anything its children left


def wait_for_worker(
    process: subprocess.Popen[bytes], node: str, control: Celery, log: IO[bytes]
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not control.control.ping(destination=[node], timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            tail = log.read().decode("utf-8", "replace")[-3000:]
            raise RuntimeError(f"worker {node} did not start:\n{tail}")


def pool_pids(process: subprocess.Popen[bytes]) -> list[int]:
    """The worker's pool processes (its children), e.g. to point py-spy at."""
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(process.pid)], capture_output=True, text=True
    ).stdout
    return [int(pid) for pid in out.split()]


# -- no-op throughput -----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A worker to load: the app that publishes to it, its task and its result database."""

    label: str
    app: Celery
    task: str
    results: Redis


@dataclass(frozen=True)
class NoopRun:
    tasks: int
    publish_seconds: float
    total_seconds: float

    @property
    def tasks_per_second(self) -> float:
        return self.tasks / self.total_seconds

    @property
    def publish_rate(self) -> float:
        return self.tasks / self.publish_seconds


def publish(app: Celery, task: str, ids: Sequence[str], threads: int) -> None:
    """`send_task` for every id, spread over `threads` threads with a producer each."""
    stop = threading.Event()  # set when the caller gives up (Ctrl-C): publish no more

    def send(offset: int) -> None:
        with app.producer_or_acquire() as producer:
            for index in range(offset, len(ids), threads):
                if stop.is_set():
                    return
                kwargs = {"echo": str(index)}
                app.send_task(task, kwargs=kwargs, task_id=ids[index], producer=producer)

    with ThreadPoolExecutor(threads, thread_name_prefix="publish") as pool:
        try:
            list(pool.map(send, range(threads)))
        except BaseException:
            stop.set()
            raise


def count_states(results: Redis, ids: Sequence[str]) -> Counter[str]:
    states: Counter[str] = Counter()
    for start in range(0, len(ids), MGET_CHUNK):
        keys = [RESULT_PREFIX + task_id for task_id in ids[start : start + MGET_CHUNK]]
        for raw in results.mget(keys):
            states[json.loads(raw)["status"] if raw is not None else "PENDING"] += 1
    return states


def wait_all_succeeded(results: Redis, ids: Sequence[str], timeout: float) -> float:
    """The time (perf_counter) when every result read SUCCESS."""
    deadline = time.monotonic() + timeout
    while int(results.dbsize()) < len(ids):  # cheap: one O(1) call per poll
        check_deadline(deadline, lambda: f"{results.dbsize()} of {len(ids)} results stored")
        time.sleep(POLL)
    while (states := count_states(results, ids))["SUCCESS"] < len(ids):
        check_deadline(deadline, lambda: f"result states {dict(states)}")
        time.sleep(POLL)
    return time.perf_counter()


def check_deadline(deadline: float, progress: Callable[[], str]) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(f"gave up waiting: {progress()}")


def run_noop(target: Target, count: int, threads: int) -> NoopRun:
    """Publish `count` tasks and wait for all results; the result database starts empty."""
    target.results.flushdb()
    ids = [str(uuid.uuid4()) for _ in range(count)]
    started = time.perf_counter()
    publish(target.app, target.task, ids, threads)
    published = time.perf_counter()
    finished = wait_all_succeeded(target.results, ids, timeout=max(120.0, count / 10))
    return NoopRun(count, published - started, finished - started)


def noop_rounds(targets: Sequence[Target], options: Options) -> dict[str, list[NoopRun]]:
    """Warm every worker up, then alternate them round by round (the order flips each round)."""
    for target in targets:
        run_noop(target, options.warmup, options.publish_threads)
    runs: dict[str, list[NoopRun]] = {target.label: [] for target in targets}
    for number in range(options.rounds):
        for target in targets if number % 2 == 0 else reversed(targets):
            run = run_noop(target, options.tasks, options.publish_threads)
            say(f"round {number + 1}: {target.label} {run.tasks_per_second:,.0f} tasks/s")
            runs[target.label].append(run)
    return runs


# -- email throughput -----------------------------------------------------------------------


@dataclass(frozen=True)
class EmailRun:
    emails: int
    queue_seconds: float
    total_seconds: float
    delivered_while_queueing: int

    @property
    def emails_per_second(self) -> float:
        return self.emails / self.total_seconds

    @property
    def drain_rate(self) -> float:
        """Emails/s once queueing was over: the worker alone, without the API's load."""
        left = self.emails - self.delivered_while_queueing
        return left / (self.total_seconds - self.queue_seconds)

    @property
    def queue_ms_per_email(self) -> float:
        return 1000 * self.queue_seconds / self.emails


def create_tenant(mongo_url: str) -> str:
    now = datetime.now(UTC)
    tenant = {"name": "Bench Corp", "subdomain": "bench", "status": "active"}
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_url, tz_aware=True)
    with client:
        inserted = client[DB_NAME]["tenants"].insert_one(
            {**tenant, "created_at": now, "updated_at": now}
        )
    return str(inserted.inserted_id)


async def queue_emails(settings: Settings, tenant_id: str, count: int) -> tuple[float, float]:
    """Queue `count` welcome emails through `QueueEmail`; returns (started, finished)."""
    async with running(settings) as container:
        queue = container.resolve(QueueEmail)
        with tenant_context(TenantId(tenant_id)):
            started = time.perf_counter()
            for index in range(count):
                await queue.execute(
                    to=f"user{index}@example.com",
                    template=EmailTemplate.WELCOME,
                    context={"user_name": f"User {index}", "login_url": "https://example.com/"},
                )
            return started, time.perf_counter()


def wait_for_mail(capture: SmtpCapture, count: int, timeout: float) -> float:
    """The time (perf_counter) when the sink held `count` messages."""
    deadline = time.monotonic() + timeout
    while len(capture.received) < count:
        check_deadline(deadline, lambda: f"{len(capture.received)} of {count} emails received")
        time.sleep(POLL)
    return time.perf_counter()


def verify_emails(capture: SmtpCapture, mongo_url: str, count: int) -> None:
    """Every recipient got exactly one message; every record reads sent."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
    with client:
        outbox = client[DB_NAME]["outbound_emails"]
        deadline = time.monotonic() + 60
        while outbox.count_documents({"status": "sent"}) < count:
            check_deadline(deadline, lambda: f"{outbox.count_documents({'status': 'sent'})} sent")
            time.sleep(POLL)
        records = outbox.count_documents({})
    time.sleep(1.0)  # a late duplicate (redelivery) would show up here
    per_recipient = Counter(rcpt for got in capture.received for rcpt in got.rcpt_tos)
    expected = {f"user{index}@example.com" for index in range(count)}
    wrong = {address: n for address, n in per_recipient.items() if n != 1}
    missing = expected - per_recipient.keys()
    if wrong or missing or set(per_recipient) != expected or records != count:
        raise AssertionError(
            f"email check failed: {len(missing)} missing, {len(wrong)} not exactly once, "
            f"{records} records for {count} emails"
        )


def measure_emails(settings: Settings, urls: Urls, capture: SmtpCapture, count: int) -> EmailRun:
    tenant_id = create_tenant(urls.mongo)
    capture.reset()
    started, queued = asyncio.run(queue_emails(settings, tenant_id, count))
    delivered_while_queueing = len(capture.received)
    finished = wait_for_mail(capture, count, timeout=max(300.0, count / 2))
    verify_emails(capture, urls.mongo, count)
    return EmailRun(count, queued - started, finished - started, delivered_while_queueing)


# -- the run and its report -----------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    options: Options
    baseline: list[NoopRun]
    parley: list[NoopRun]
    email: EmailRun


@contextlib.contextmanager
def target(label: str, app: Celery, task: str, results_url: str) -> Iterator[Target]:
    results = Redis.from_url(results_url)
    try:
        yield Target(label, app, task, results)
    finally:
        results.close()
        app.close()


def parley_worker(urls: Urls, options: Options, app: Celery) -> WorkerProcess:
    env = parley_env(urls, options.prefetch)
    return celery_worker("api.worker:celery_app", "bench", env, options, app)


def baseline_worker(urls: Urls, options: Options, app: Celery) -> WorkerProcess:
    env = baseline_env(urls, options.prefetch)
    return celery_worker("bench.jobs:baseline_app", "baseline", env, options, app)


def run_all(urls: Urls, capture: SmtpCapture, options: Options) -> Report:
    """No-op rounds with both workers up, then emails with the Parley worker alone."""
    settings = parley_settings(urls, options.prefetch)
    bare_app = make_baseline_app(urls.broker, urls.baseline_results, options.prefetch)
    with contextlib.ExitStack() as stack:
        parley = stack.enter_context(
            target("Parley", create_celery(settings, main="bench"), PING_TASK, urls.results)
        )
        bare = stack.enter_context(
            target("bare Celery", bare_app, BASELINE_TASK, urls.baseline_results)
        )
        worker = stack.enter_context(parley_worker(urls, options, parley.app))
        with baseline_worker(urls, options, bare.app):
            say(f"workers up (Parley pool pids {pool_pids(worker)}); {options.rounds} rounds")
            runs = noop_rounds([bare, parley], options)
        say(f"Parley: {options.emails} emails through QueueEmail to the SMTP sink")
        email = measure_emails(settings, urls, capture, options.emails)
    return Report(options, runs[bare.label], runs[parley.label], email)


def median_rate(runs: Sequence[NoopRun]) -> float:
    return statistics.median(run.tasks_per_second for run in runs)


def spread(runs: Sequence[NoopRun]) -> str:
    rates = [run.tasks_per_second for run in runs]
    return f"{median_rate(runs):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})"


def verdict(value: float, goal: float) -> str:
    return "PASS" if value >= goal else "MISS"


def rows(report: Report) -> list[tuple[str, str, str, str]]:
    options, email = report.options, report.email
    parley, bare = median_rate(report.parley), median_rate(report.baseline)
    pairs = zip(report.parley, report.baseline, strict=True)
    ratio = statistics.median(p.tasks_per_second / b.tasks_per_second for p, b in pairs)
    overhead_ms = 1000 / parley - 1000 / bare
    processes = options.concurrency if options.pool == "prefork" else 1
    per_process = parley / processes
    emails = email.emails_per_second / processes
    publish = statistics.median(run.publish_rate for run in report.parley)
    drain = email.drain_rate / processes
    early = f"{email.delivered_while_queueing:,} of {email.emails:,}"
    return [
        ("no-op tasks/s, Parley `parley.ping` (median, range)", spread(report.parley), "", ""),
        ("no-op tasks/s, bare Celery (median, range)", spread(report.baseline), "", ""),
        ("Parley / bare Celery (median of per-round ratios)", f"{ratio:.2f}", "", ""),
        ("Parley overhead per task (ms, from the medians)", f"{overhead_ms:+.2f}", "", ""),
        ("publish rate, Parley tasks (tasks/s)", f"{publish:,.0f}", "", ""),
        ("no-op tasks/s per worker process, Parley", f"{per_process:,.0f}",
         f">= {GOAL_TASKS:.0f}", verdict(per_process, GOAL_TASKS)),
        ("emails/s delivered per worker process (end-to-end)", f"{emails:,.1f}",
         f">= {GOAL_EMAILS:.0f}", verdict(emails, GOAL_EMAILS)),
        ("emails/s per worker process once queueing was over", f"{drain:,.1f}", "", ""),
        ("queueing cost per email, `QueueEmail` (ms)", f"{email.queue_ms_per_email:.2f}", "", ""),
        ("emails delivered while still queueing", early, "", ""),
    ]  # fmt: skip


def render(report: Report) -> str:
    options = report.options
    lines = ["| measure | value | goal | result |", "|---|---:|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows(report)]
    lines.append("")
    lines.append(
        f"{options.rounds} rounds of {options.tasks:,} no-op tasks per worker, alternated; "
        f"{options.emails:,} emails. One worker each: {options.pool} pool, concurrency "
        f"{options.concurrency}, prefetch multiplier {options.prefetch}; "
        f"{options.publish_threads} publishing threads; {os.cpu_count()} cores."
    )
    return "\n".join(lines)


def say(message: str) -> None:
    print(f"[bench/jobs] {message}", file=sys.stderr, flush=True)


def parse(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=5000, help="no-op tasks per run")
    parser.add_argument("--emails", type=int, default=1000, help="emails to deliver")
    parser.add_argument(
        "--pool", choices=("threads", "prefork"), default="threads", help="as Parley ships"
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="threads (or prefork processes) per worker"
    )
    parser.add_argument("--prefetch", type=int, default=DEFAULT_PREFETCH)
    parser.add_argument("--publish-threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="alternated no-op rounds")
    parser.add_argument("--warmup", type=int, default=50, help="untimed tasks first")
    args = parser.parse_args(argv)
    return Options(
        tasks=args.tasks,
        emails=args.emails,
        pool=args.pool,
        concurrency=args.concurrency,
        prefetch=args.prefetch,
        publish_threads=args.publish_threads,
        rounds=args.rounds,
        warmup=args.warmup,
    )


def _terminate(signum: int, _: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through every `finally` below


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(argv)
    signal.signal(signal.SIGTERM, _terminate)
    with contextlib.ExitStack() as stack:
        urls, capture = start_servers(stack)
        report = run_all(urls, capture, options)
    print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
