"""What the WhatsApp benchmarks share (webhook_ingest.py, inbound_e2e.py, sends.py).

A `Stack` is one run's servers on free ports of 127.0.0.1: SecantusDB (standalone, in
memory) and Redis (devservers), then whichever of Parley's processes a benchmark asks for
(the API under uvicorn, one Celery worker as `scripts/serve` starts it, the tests' fake
Graph API as its own process). Every process runs from the run's scratch directory, with
one environment built here (so a developer's `.env` cannot change what is measured), and
this process reads its `Settings` from the same environment: the bench, the API and the
worker agree on the database, Redis, the broker and the key that encrypts channel
secrets. Everything started is stopped when the `ExitStack` given to `start_stack` closes.

Also here: the tenant and its WhatsApp channel (written through Parley's own use case and
repository, with an app secret to sign webhooks with), Meta-shaped webhook bodies with
unique ids (`tests/fixtures/whatsapp/`), their `X-Hub-Signature-256`, and percentiles.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
for _path in (REPO, REPO / "scripts"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import devservers  # noqa: E402 - found through the path set just above

from api.config import Settings, load_settings  # noqa: E402
from api.domain.identity.auth import SecretBox  # noqa: E402
from api.domain.messaging.channels import ChannelRepository, SecretName  # noqa: E402
from api.domain.tenancy import TenantId, tenant_context  # noqa: E402
from api.infrastructure.jobs.celery_app import create_celery  # noqa: E402
from api.interfaces.http.uvicorn_protocol import UVICORN_HTTP  # noqa: E402
from api.usecases.tenants.create_tenant import CreateTenant  # noqa: E402
from api.usecases.tenants.rules import OPERATOR  # noqa: E402
from api.wiring import running  # noqa: E402
from tests.support.channels import whatsapp_channel  # noqa: E402
from tests.support.fake_graph import PHONE_NUMBER_ID, TOKEN, WABA_ID  # noqa: E402

HOST = "127.0.0.1"
DB_NAME = "parley_bench"
APP_SECRET = "bench-app-secret-0123456789"  # noqa: S105 - the bench channel's, made up
OWNER_EMAIL = "owner@bench.example.com"
OWNER_PASSWORD = "bench-owner-password-1"  # noqa: S105 - made up
READY_TIMEOUT = 90.0
FIXTURES = REPO / "tests" / "fixtures" / "whatsapp"
BUSINESS_PHONE = "15550783881"


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    """A free TCP port of 127.0.0.1 (for a process a bench starts itself)."""
    return devservers.free_port()


def run_main(main: Callable[[], int]) -> None:
    """Run a bench's `main` as a script: its code as the exit status; Ctrl-C said plainly
    (whatever it started is stopped by its `ExitStack`)."""
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        sys.exit("bench: interrupted; everything it started has been stopped.")


def raise_on_sigterm(signum: int, _frame: object) -> None:
    say("terminated; stopping everything it started.")
    raise SystemExit(128 + signum)  # unwinds through the ExitStack that stops the processes


# -- processes ------------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0
    node: str = ""  # a Celery worker's node name

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        devservers.stop_process_group(self.process, timeout=20.0)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # anything left in its group

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")


@dataclass
class Stack:
    work: Path
    cleanup: contextlib.ExitStack
    mongo_url: str = ""
    redis_url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    settings: Settings | None = None
    groups: dict[str, int] = field(default_factory=dict)  # name -> process group, for CpuMeter

    def spawn(self, name: str, argv: list[str], port: int = 0) -> Process:
        log_path = self.work / f"{name}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                argv,
                cwd=self.work,  # not the repo: a developer's `.env` must not change the run
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: we stop it, Ctrl-C reaches us
            )
        started = Process(name, process, log_path, port)
        self.cleanup.callback(started.stop)
        self.groups[name] = process.pid  # start_new_session: its pid is its group
        return started

    @property
    def parley_settings(self) -> Settings:
        assert self.settings is not None
        return self.settings


def redis_db(url: str, db: int) -> str:
    base, _, last = url.rpartition("/")
    return f"{base}/{db}" if last.isdigit() else f"{url.rstrip('/')}/{db}"


def start_stack(work: Path, cleanup: contextlib.ExitStack, **extra_env: str) -> Stack:
    """SecantusDB and Redis on free ports, the environment of every process of the run, and
    this process's `Settings` read from it (from `work`, where no `.env` is)."""
    stack = Stack(work, cleanup)
    say("starting SecantusDB (standalone, in memory) and Redis")
    mongo = devservers.start_mongo(standalone=True, log_file=str(work / "mongo.log"))
    cleanup.callback(mongo.stop)
    redis = devservers.start_redis(log_file=str(work / "redis.log"))
    cleanup.callback(redis.stop)
    stack.mongo_url, stack.redis_url = mongo.url, redis.url
    # This process's group holds the load generators it runs (wrk) too.
    stack.groups.update(bench=os.getpgrp(), db=mongo.process.pid, redis=redis.process.pid)
    stack.env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        ),
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "WARNING",
        "MONGO_URI": mongo.url,
        "MONGO_DB_NAME": DB_NAME,
        "REDIS_URL": redis.url,
        "CELERY_BROKER_URL": redis_db(redis.url, 1),
        "CELERY_RESULT_BACKEND": redis_db(redis.url, 2),
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "MULTI_TENANCY_STRATEGY": "header",
        "CORS_ORIGINS": "",
        "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
        **extra_env,
    }
    saved_cwd, saved_env = os.getcwd(), dict(os.environ)
    try:
        os.chdir(work)
        os.environ.clear()
        os.environ.update(stack.env)
        stack.settings = load_settings()
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return stack


def http_call(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_until_answers(server: Process, path: str, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        server.check_alive()
        with contextlib.suppress(OSError):
            if http_call(server.port, "GET", path, headers=headers)[0] == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not answer {path} in {READY_TIMEOUT:g} s")


def start_parley(stack: Stack, name: str = "parley") -> Process:
    """Parley's API, one uvicorn worker, as in production (no access log)."""
    port = devservers.free_port()
    argv = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory"]
    argv += ["--app-dir", str(REPO), "--host", HOST, "--port", str(port), "--workers", "1"]
    argv += ["--no-access-log", "--log-level", "warning", "--no-proxy-headers"]
    argv += ["--http", UVICORN_HTTP]  # as scripts/serve and the image run it
    server = stack.spawn(name, argv, port)
    wait_until_answers(server, "/health")
    return server


def start_fake_graph(stack: Stack, delay_seconds: float) -> Process:
    """The tests' fake Graph API (`tests/support/fake_graph.py`) as its own process."""
    port = devservers.free_port()
    argv = [sys.executable, "-m", "tests.support.fake_graph", "--host", HOST]
    argv += ["--port", str(port), "--delay", str(delay_seconds)]
    server = stack.spawn("fake_graph", argv, port)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    wait_until_answers(server, f"/v26.0/{PHONE_NUMBER_ID}", auth)
    return server


def start_worker(stack: Stack, concurrency: int = 8, pool: str = "threads") -> Process:
    """One Celery worker process, started as `scripts/serve` starts it (threads pool)."""
    node = f"bench-{os.getpid()}-{time.monotonic_ns()}"
    argv = [sys.executable, "-m", "celery", "-A", "api.worker:celery_app", "worker"]
    argv += [f"--pool={pool}", f"--concurrency={concurrency}", "--loglevel=WARNING"]
    argv += ["-n", f"{node}@%h"]
    worker = stack.spawn("worker", argv)
    worker.node = f"{node}@{socket.gethostname()}"
    control = create_celery(stack.parley_settings, main="bench-control")
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        destination = [worker.node]
        while not control.control.ping(destination=destination, timeout=0.5):
            worker.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{worker.log_tail()}")
    finally:
        control.close()
    return worker


# -- the tenant and its channel ---------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    tenant_id: str
    channel_id: str


async def seed_channel(settings: Settings, graph_url: str, messages_per_second: int) -> Seeded:
    """A tenant with an owner (`OWNER_EMAIL`), and a connected WhatsApp channel whose app
    secret is `APP_SECRET` and whose Graph API is `graph_url`, through Parley's code."""
    async with running(settings) as container:
        created = await container.resolve(CreateTenant).execute(
            OPERATOR,
            name="Bench Corp",
            subdomain="bench",
            owner_email=OWNER_EMAIL,
            owner_full_name="Bench Owner",
            owner_password=OWNER_PASSWORD,
        )
        tenant_id = created.tenant.id or ""
        box: SecretBox = container.resolve(SecretBox)
        channel = whatsapp_channel(box, graph_url, channel_id=None)
        secrets = channel.secrets.with_secret(SecretName.APP_SECRET, box.encrypt(APP_SECRET))
        channel = channel.model_copy(
            update={"secrets": secrets, "messages_per_second": messages_per_second}
        )
        with tenant_context(TenantId(tenant_id)):
            stored = await container.resolve(ChannelRepository).add(channel)
    assert stored.id is not None
    return Seeded(tenant_id, stored.id)


async def sign_in_owner(http: httpx.AsyncClient, tenant_id: str) -> None:
    """Sign the seeded owner in: `http` sends their token and tenant from now on."""
    answer = await http.post(
        "/api/v1/auth/login",
        json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD},
        headers={"X-Tenant-ID": tenant_id},
    )
    answer.raise_for_status()
    http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    http.headers["X-Tenant-ID"] = tenant_id


# -- Meta's webhook bodies ---------------------------------------------------------------------


def signature(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))
    return loaded


def _value(payload: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = payload["entry"][0]["changes"][0]["value"]
    value["metadata"] = {"display_phone_number": BUSINESS_PHONE, "phone_number_id": PHONE_NUMBER_ID}
    payload["entry"][0]["id"] = WABA_ID
    return value


def status_body(wamid: str, state: str, timestamp: int, customer: int = 0) -> bytes:
    """One status of an outbound message, shaped like `status_{state}.json` (Meta's)."""
    payload = _fixture(f"status_{state}")
    status = _value(payload)["statuses"][0]
    status.update(id=wamid, timestamp=str(timestamp), recipient_id=customer_phone(customer))
    status["recipient_user_id"] = customer_user_id(customer)
    return json.dumps(payload, separators=(",", ":")).encode()


def text_body(wamid: str, customer: int, text: str, timestamp: int) -> bytes:
    """One inbound text message from customer number `customer`, shaped like text.json."""
    payload = _fixture("text")
    value = _value(payload)
    phone, user_id = customer_phone(customer), customer_user_id(customer)
    value["contacts"] = [
        {"profile": {"name": f"Customer {customer}"}, "wa_id": phone, "user_id": user_id}
    ]
    message = value["messages"][0]
    message.update({"from": phone, "from_user_id": user_id, "id": wamid})
    message.update(timestamp=str(timestamp), text={"body": text})
    return json.dumps(payload, separators=(",", ":")).encode()


def customer_phone(customer: int) -> str:
    return f"1650555{customer:04d}"


def customer_user_id(customer: int) -> str:
    return f"US.{13491208655302741918 + customer}"


def webhook_path(channel_id: str) -> str:
    return f"/api/v1/webhooks/whatsapp/{channel_id}"


# -- figures ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (`pct` in 0-100); NaN when there are no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


_TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) used so far by the live processes of a process group."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ...
                total += int(fields[11]) + int(fields[12])
    return total / _TICKS


def machine_cpu_seconds() -> float:
    """CPU time every core spent busy since boot (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS


class CpuMeter:
    """Cores used by named process groups (and by everything else on the machine) between
    `start()` and `stop()`. `other` is what no group of the run used: other sessions' load."""

    def __init__(self, groups: dict[str, int]) -> None:
        self.groups = groups
        self._start: dict[str, float] = {}
        self._wall = 0.0

    def _now(self) -> dict[str, float]:
        now = {name: group_cpu_seconds(pgid) for name, pgid in self.groups.items()}
        now["machine"] = machine_cpu_seconds()
        return now

    def start(self) -> None:
        self._start, self._wall = self._now(), time.monotonic()

    def stop(self) -> dict[str, float]:
        end, wall = self._now(), time.monotonic() - self._wall
        cores = {name: (end[name] - self._start[name]) / wall for name in end}
        cores["other"] = max(0.0, cores["machine"] - sum(cores[n] for n in self.groups))
        return cores


def cpu_note(cores: dict[str, float]) -> str:
    return "cores " + " ".join(f"{name} {value:.2f}" for name, value in cores.items())


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "unknown"
