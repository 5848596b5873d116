"""Parley's identity paths (sign-in, authenticated read) against bare baselines, in one run.

    uv run --frozen python bench/auth.py [--duration 10] [--runs 3] [--connections 64]

Starts its own SecantusDB (standalone, in memory) and Redis on free ports, one Parley
server and the bare baseline app (``bench/baseline_auth_app.py``), one uvicorn worker
each. Onboards one tenant through Parley's HTTP API as the platform admin, signs its owner
in, creates ``--users`` users as the owner, then loads four targets with ``wrk`` in
interleaved rounds:

- ``baseline_argon2_verify``: ``POST /login`` on the bare app, an argon2id verify only;
- ``parley_login``: ``POST /api/v1/auth/login`` in the tenant, the first ``--login-users``
  users in turn, right password (rate limits and lockout raised out of the way);
- ``baseline_jwt_find_one``: ``GET /users/{id}`` on the bare app: HS256 JWT verify, the
  token's ``tid`` against ``X-Tenant-ID``, one ``find_one`` by ``_id`` and ``tenant_id``;
- ``parley_user_get``: ``GET /api/v1/users/{id}`` with the owner's access token.

Argon2 runs at Parley's default cost parameters in both servers. Every Parley figure is
read against its baseline measured in the same round. Around every load the CPU time of
the server, SecantusDB, Redis, wrk and the whole machine is read from /proc: CPU per
request by process, a CPU cost ratio that other work on the machine barely moves, and
how much CPU other work took meanwhile ("others"). A row with any error is INVALID and
the script exits 1. ``--profile FILE`` then samples one server with py-spy (through
``uv run --with py-spy``) under its load; ``--parley-dir DIR`` serves Parley from a
modified copy of ``api/`` (A/B). Everything it started is stopped on exit, Ctrl-C,
SIGTERM and errors included. Reuses ``bench/tenant_read.py``'s process, Mongo/Redis and
summary helpers. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# bench/ (this script's directory) is on sys.path already: `tenant_read` is imported under
# that name, the one mypy gives it too (bench/ has no __init__.py to make `bench.` a package).
for _path in (REPO, REPO / "scripts"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import devservers  # noqa: E402 - found through the path set just above
from tenant_read import (  # noqa: E402
    DB_NAME,
    HOST,
    TIMES,
    Sample,
    Stack,
    _raise_on_sigterm,
    _sample,
    ensure_wrk,
    parley_env,
    running_stack,
    start_uvicorn,
    summarise,
    wait_until_answers,
    write_lines,
)

from api.config import AuthSettings  # noqa: E402

BASE_LOGIN = "baseline_argon2_verify"
PARLEY_LOGIN = "parley_login"
BASE_GET = "baseline_jwt_find_one"
PARLEY_GET = "parley_user_get"
BASELINE_OF = {
    BASE_LOGIN: BASE_LOGIN,
    PARLEY_LOGIN: BASE_LOGIN,
    BASE_GET: BASE_GET,
    PARLEY_GET: BASE_GET,
}
GOAL_USER_GET = 0.60
NOISE_CORES = 0.25  # a row's median "others" above this: other work shared the machine
LOGIN_PATH = "/api/v1/auth/login"

# Throwaway credentials of this run's private, in-memory database (the JWT and refresh
# secrets are drawn per run and never printed).
ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_PASSWORD = "bench-admin-password-1"  # noqa: S105
PASSWORD = "bench-user-password-1"  # noqa: S105 - every bench user's password
OWNER_EMAIL = "owner@bench-auth.example.com"
UNLIMITED = "1000000000"  # rate limits and lockout threshold, far out of the load's reach


def argon2_defaults() -> dict[str, int]:
    """Parley's default (production) argon2id cost: read from its settings, never lowered."""
    fields = AuthSettings.model_fields
    return {
        name: int(fields[f"argon2_{name}"].default)
        for name in ("time_cost", "memory_cost", "parallelism")
    }


# -- wrk and its Lua script ---------------------------------------------------------------

# Values (one a line) used as the request path or body, picked at random or in turn,
# fixed headers on every request; non-2xx answers counted in every thread, one JSON
# summary line at the end in the format `tenant_read._sample` reads.
LUA_TEMPLATE = """\
local method, use, pick = "{method}", "{use}", "{pick}"
local fixed_path = [==[{path}]==]
local headers = {{{headers}}}
local values = {{}}
for line in io.lines([==[{values_file}]==]) do values[#values + 1] = line end
local threads, started = {{}}, 0
function setup(thread)
  started = started + 1
  thread:set("thread_no", started)
  threads[#threads + 1] = thread
end
local turn = 0
function init(args)
  math.randomseed(os.time() * 1000 + (thread_no or 0))
  turn = (thread_no or 0) * 7919
end
non2xx = 0
function response(status, hdrs, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
request = function()
  local value
  if pick == "cycle" then
    turn = turn + 1
    value = values[turn % #values + 1]
  else
    value = values[math.random(#values)]
  end
  if use == "path" then return wrk.format(method, value, headers) end
  return wrk.format(method, fixed_path, headers, value)
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


@dataclass(frozen=True)
class Load:
    """One wrk target: every request picks a value from `values_file` as path or body."""

    name: str
    port: int
    path: str
    method: Literal["GET", "POST"]
    use: Literal["path", "body"]
    pick: Literal["random", "cycle"]
    values_file: Path
    headers: dict[str, str]
    connections: int

    def lua(self) -> str:
        headers = ", ".join(f'["{k}"] = [==[{v}]==]' for k, v in self.headers.items())
        return LUA_TEMPLATE.format(
            method=self.method,
            use=self.use,
            pick=self.pick,
            path=self.path,
            headers=headers,
            values_file=self.values_file,
        )


def run_load(load: Load, seconds: int, threads: int, work: Path) -> Sample:
    script = work / f"{load.name}.lua"
    script.write_text(load.lua())
    argv = ["wrk", f"-t{min(threads, load.connections)}", f"-c{load.connections}"]
    argv += [f"-d{seconds}s", "--timeout=5s", "-s", str(script), f"http://{HOST}:{load.port}/"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    for line in result.stdout.splitlines():
        if line.startswith("BENCH "):
            return _sample(json.loads(line.removeprefix("BENCH ")))
    raise RuntimeError(f"wrk gave no summary for {load.name}:\n{result.stdout}{result.stderr}")


# -- CPU per request, by process -----------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The server under load, SecantusDB, Redis, wrk, the whole machine, and "others": the
# machine's busy time that none of the four account for (other processes, and kernel
# work done outside them). A few hundredths of a core when nothing else runs; more means
# other work shared the machine during that sample.
PROCESSES = ("app", "db", "redis", "wrk")
ROLES = (*PROCESSES, "machine", "others")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU time the machine spent on anything but idling, all cores, from /proc/stat."""
    ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:8]) - idle) / CLOCK_TICKS  # user .. steal (guest is inside user)


def children_cpu_seconds() -> float:
    """CPU time of this process's finished children: wrk's, once it has been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pid_listening_on(port: int) -> int:
    """The process started with `--port {port}` (SecantusDB) or renamed `...:{port}` (Redis)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            words = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            pairs = itertools.pairwise(words)
            if any(a == "--port" and b == str(port) for a, b in pairs) or any(
                w.endswith(f":{port}") for w in words
            ):
                return int(entry.name)
    raise RuntimeError(f"no process found for port {port}")


@dataclass
class Measured:
    sample: Sample
    cpu_ms: dict[str, float]  # CPU ms per request, by role
    cores: dict[str, float]  # CPU seconds per second of load, by role


def run_measured(
    load: Load, pids: dict[str, int], seconds: int, threads: int, work: Path
) -> Measured:
    def snapshot() -> dict[str, float]:
        taken = {role: cpu_seconds(pid) for role, pid in pids.items()}
        return {**taken, "wrk": children_cpu_seconds(), "machine": machine_busy_seconds()}

    before = snapshot()
    sample = run_load(load, seconds, threads, work)
    used = {role: spent - before[role] for role, spent in snapshot().items()}
    used["others"] = max(used["machine"] - sum(used[role] for role in PROCESSES), 0.0)
    requests = max(sample.rps * seconds, 1.0)
    return Measured(
        sample,
        cpu_ms={role: 1000 * used[role] / requests for role in used},
        cores={role: used[role] / seconds for role in used},
    )


# -- HTTP set-up calls ----------------------------------------------------------------------


def call(
    port: int,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One JSON request; (status, decoded body or None)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        sent = {"Content-Type": "application/json", **(headers or {})}
        connection.request(method, path, body=payload, headers=sent)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(raw) if raw else None
    except ValueError:
        return response.status, None


def expect(answer: tuple[int, Any], status: int, what: str) -> Any:
    """The body when the status is the one expected; else an error naming the problem
    (its title and detail only: a body with tokens in it is never shown)."""
    got, body = answer
    if got != status:
        detail = {k: body.get(k) for k in ("title", "detail")} if isinstance(body, dict) else ""
        raise RuntimeError(f"{what}: HTTP {got}, expected {status} {detail}")
    return body


def bearer(body: Any) -> str:
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise RuntimeError("sign-in answered 200 without an access token")
    return f"Bearer {token}"


@dataclass
class Identity:
    tenant_id: str = ""
    owner_headers: dict[str, str] = field(default_factory=dict)
    user_ids: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)


def onboard(port: int, users: int) -> Identity:
    """A tenant and its owner through the platform admin, then `users` users as the owner."""
    admin = expect(
        call(port, "POST", LOGIN_PATH, {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
        200,
        "platform admin sign-in",
    )
    tenant = expect(
        call(
            port,
            "POST",
            "/api/v1/tenants",
            {
                "name": "Bench Auth",
                "subdomain": "bench-auth",
                "owner_email": OWNER_EMAIL,
                "owner_password": PASSWORD,
                "owner_full_name": "Olivia Owner",
            },
            {"Authorization": bearer(admin)},
        ),
        201,
        "tenant creation",
    )
    identity = Identity(tenant_id=str(tenant["id"]))
    owner = expect(
        call(
            port,
            "POST",
            LOGIN_PATH,
            {"email": OWNER_EMAIL, "password": PASSWORD},
            {"X-Tenant-ID": identity.tenant_id},
        ),
        200,
        "owner sign-in",
    )
    identity.owner_headers = {"Authorization": bearer(owner), "X-Tenant-ID": identity.tenant_id}
    identity.emails = [f"user-{i:04d}@bench-auth.example.com" for i in range(users)]

    def create(i: int) -> str:
        body = {"email": identity.emails[i], "full_name": f"User {i:04d}", "password": PASSWORD}
        answer = call(port, "POST", "/api/v1/users", body, identity.owner_headers)
        return str(expect(answer, 201, f"user {i} creation")["id"])

    pool = ThreadPoolExecutor(max_workers=4)  # each creation hashes a password: in parallel
    try:
        identity.user_ids = list(pool.map(create, range(users)))
    finally:  # on an error or a signal, do not go on creating the users still queued
        pool.shutdown(wait=True, cancel_futures=True)
    return identity


# -- the servers under test -----------------------------------------------------------------


def start_servers(stack: Stack, jwt_secret: str, parley_dir: Path) -> None:
    """Parley (which creates its indexes and the platform admin), then the baseline."""
    argon2 = argon2_defaults()
    parley = {
        **parley_env(stack, "5"),
        "JWT_SECRET": jwt_secret,
        "REFRESH_TOKEN_SECRET": secrets.token_urlsafe(32),
        "ADMIN_EMAIL": ADMIN_EMAIL,
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "ACCESS_TOKEN_TTL_SECONDS": "3600",  # the owner's token outlives the run
        "LOGIN_RATE_PER_IP": UNLIMITED,
        "LOGIN_RATE_PER_ACCOUNT": UNLIMITED,
        "LOCKOUT_THRESHOLD": UNLIMITED,
        **{f"ARGON2_{k.upper()}": str(v) for k, v in argon2.items()},
    }
    baseline = {
        "BENCH_MONGO_URI": stack.mongo_url,
        "BENCH_DB_NAME": DB_NAME,
        "BENCH_JWT_SECRET": jwt_secret,
        "BENCH_PASSWORD": PASSWORD,
        **{f"BENCH_ARGON2_{k.upper()}": str(v) for k, v in argon2.items()},
    }
    plan = [
        ("parley", ["api.main:create_app", "--factory", "--app-dir", str(parley_dir)], parley),
        ("baseline", ["baseline_auth_app:app", "--app-dir", str(BENCH_DIR)], baseline),
    ]
    for name, app_args, env in plan:
        server = start_uvicorn(name, app_args, env, stack.work)
        stack.servers[name] = server
        wait_until_answers(server, "/health")


def check_answers(stack: Stack, identity: Identity) -> None:
    """Before any load: each server answers every request right, and refuses the wrong."""
    parley, baseline = stack.servers["parley"].port, stack.servers["baseline"].port
    user_id, email, headers = identity.user_ids[0], identity.emails[0], identity.owner_headers
    for port, path, name in (
        (baseline, f"/users/{user_id}", "baseline"),
        (parley, f"/api/v1/users/{user_id}", "parley"),
    ):
        body = expect(call(port, "GET", path, headers=headers), 200, f"{name} user read")
        if body.get("email") != email or "password_hash" in body:
            raise RuntimeError(f"{name} user read answered another document")
    path = f"/users/{user_id}"
    expect(call(baseline, "GET", path), 401, "baseline read without a token")
    wrong_tenant = {**headers, "X-Tenant-ID": "0" * 24}
    expect(call(baseline, "GET", path, headers=wrong_tenant), 403, "baseline, another tenant")
    right = {"email": email, "password": PASSWORD}
    wrong = {"email": email, "password": PASSWORD + "x"}
    expect(call(baseline, "POST", "/login", right), 200, "baseline password check")
    expect(call(baseline, "POST", "/login", wrong), 401, "baseline wrong password")
    tenant = {"X-Tenant-ID": identity.tenant_id}
    bearer(expect(call(parley, "POST", LOGIN_PATH, right, tenant), 200, "parley sign-in"))


def loads_for(stack: Stack, identity: Identity, args: argparse.Namespace, work: Path) -> list[Load]:
    bodies = [
        json.dumps({"email": e, "password": PASSWORD}) for e in identity.emails[: args.login_users]
    ]
    logins = write_lines(work / "login_bodies.txt", bodies)
    ids = identity.user_ids
    base_paths = write_lines(work / "baseline_paths.txt", [f"/users/{i}" for i in ids])
    parley_paths = write_lines(work / "parley_paths.txt", [f"/api/v1/users/{i}" for i in ids])
    parley, baseline = stack.servers["parley"].port, stack.servers["baseline"].port
    json_type = {"Content-Type": "application/json"}
    tenant = {**json_type, "X-Tenant-ID": identity.tenant_id}
    lc, gc, owner = args.login_connections, args.connections, identity.owner_headers
    return [
        Load(BASE_LOGIN, baseline, "/login", "POST", "body", "cycle", logins, json_type, lc),
        Load(PARLEY_LOGIN, parley, LOGIN_PATH, "POST", "body", "cycle", logins, tenant, lc),
        Load(BASE_GET, baseline, "", "GET", "path", "random", base_paths, owner, gc),
        Load(PARLEY_GET, parley, "", "GET", "path", "random", parley_paths, owner, gc),
    ]


# -- measuring, profiling and reporting -----------------------------------------------------


def measure(
    stack: Stack, loads: list[Load], args: argparse.Namespace, work: Path
) -> dict[str, list[Measured]]:
    shared = {
        "db": pid_listening_on(urlsplit(stack.mongo_url).port or 0),
        "redis": pid_listening_on(urlsplit(stack.redis_url).port or 0),
    }
    app_pid = {server.port: server.process.pid for server in stack.servers.values()}
    pids = {load.name: {"app": app_pid[load.port], **shared} for load in loads}
    if args.warmup > 0:
        for load in loads:
            run_load(load, args.warmup, args.threads, work)
    results: dict[str, list[Measured]] = {load.name: [] for load in loads}
    for round_no in range(1, args.runs + 1):
        for load in loads:  # interleaved: drift and noise hit every target alike
            measured = run_measured(load, pids[load.name], args.duration, args.threads, work)
            results[load.name].append(measured)
            sample, cpu, cores = measured.sample, measured.cpu_ms, measured.cores
            print(
                f"round {round_no} {load.name:<22} c={load.connections:<2} {sample.rps:7.1f} rps "
                f"p50 {sample.p50_ms:7.1f} ms p99 {sample.p99_ms:7.1f} ms errors {sample.errors}"
                " | CPU ms/req (cores): "
                + ", ".join(f"{r} {cpu[r]:.2f} ({cores[r]:.2f})" for r in ROLES),
                file=sys.stderr,
                flush=True,
            )
    return results


def summarise_all(results: dict[str, list[Measured]]) -> dict[str, dict[str, Any]]:
    """`tenant_read.summarise` of each target against its baseline in the same rounds, plus
    the median CPU per request of each process, and the CPU cost ratio: the baseline's CPU
    per request (its server, SecantusDB, Redis and wrk) over the target's, per round. On
    a saturated machine that is what the throughput ratio tends to, and other work on
    the machine barely moves it."""
    rows: dict[str, dict[str, Any]] = {}
    for name, measured in results.items():
        base = results[BASELINE_OF[name]]
        row = summarise([m.sample for m in measured], [m.sample for m in base])
        for role in ROLES:
            row[f"{role}_cpu_ms"] = statistics.median(m.cpu_ms[role] for m in measured)
            row[f"{role}_cores"] = statistics.median(m.cores[role] for m in measured)
        for entry, m in zip(row["rounds"], measured, strict=True):
            entry.update(cpu_ms=m.cpu_ms, cores=m.cores)
        row["own_cpu_ms"] = statistics.median(own_cpu_ms(m) for m in measured)
        row["cost_ratio"] = statistics.median(
            own_cpu_ms(b) / own_cpu_ms(m) for m, b in zip(measured, base, strict=True)
        )
        rows[name] = row
    return rows


def own_cpu_ms(measured: Measured) -> float:
    return sum(measured.cpu_ms[role] for role in PROCESSES)


def profile(stack: Stack, load: Load, args: argparse.Namespace, work: Path) -> None:
    """py-spy on the server under `load` while it runs; raw stacks to `args.profile`, and
    the functions with the most samples (own, and with callees) to stderr."""
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError("--profile needs `uv` on PATH (it runs py-spy with `uv run --with`)")
    pid = next(s.process.pid for s in stack.servers.values() if s.port == load.port)
    argv = [uv, "run", "--with", "py-spy", "--no-project", "py-spy", "record", "--pid", str(pid)]
    argv += ["--duration", str(args.duration), "--rate", "250", "--nonblocking"]
    argv += ["--format", "raw", "--output", str(args.profile)]
    with open(work / "py-spy.log", "wb") as log:
        spy = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        sample = run_load(load, args.duration, args.threads, work)
        spy.wait(timeout=60)
    finally:
        if spy.poll() is None:
            devservers.stop_process_group(spy, timeout=5.0)
    where = f"{load.name} ({sample.rps:.0f} rps while sampled): {args.profile}"
    print(f"\nprofile of {where}", file=sys.stderr)
    if not args.profile.exists():
        raise RuntimeError(f"py-spy wrote no profile:\n{(work / 'py-spy.log').read_text()}")
    for line in summarise_profile(args.profile):
        print(line, file=sys.stderr)


def summarise_profile(path: Path, top: int = 25) -> Iterator[str]:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        # "function (file:line)" -> "function (file)": one entry per function
        frames = [frame.rsplit(":", 1)[0] + ")" for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    yield f"{total} samples (busy threads only)"
    for title, counter in (("own time", own), ("with callees", inclusive)):
        yield f"-- top {top} functions, {title}"
        for frame, count in counter.most_common(top):
            yield f"{count / max(total, 1):6.1%}  {frame}"


def table(rows: dict[str, dict[str, Any]], loads: list[Load], runs: int) -> str:
    connections = {load.name: load.connections for load in loads}
    lines = [
        f"| target | conns | rps (median of {runs}) | p50 ms | p99 ms | errors | vs "
        "| rps ratio | p99 ratio | CPU cost ratio | CPU ms/req: app | SecantusDB | Redis "
        "| others, cores |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        errors = f"{row['errors']} INVALID" if row["errors"] else "0"
        versus = "" if BASELINE_OF[name] == name else BASELINE_OF[name]
        lines.append(
            f"| {name} | {connections[name]} | {row['rps']:.1f} | {row['p50_ms']:.2f} "
            f"| {row['p99_ms']:.2f} | {errors} | {versus} | {row['rps_ratio']:.2f} "
            f"| {row['p99_ratio']:.2f} | {row['cost_ratio']:.2f} | {row['app_cpu_ms']:.2f} "
            f"| {row['db_cpu_ms']:.2f} | {row['redis_cpu_ms']:.2f} | {row['others_cores']:.2f} |"
        )
    return "\n".join(lines)


def verdict_login(row: dict[str, Any], base: dict[str, Any], connections: int) -> str:
    extra = row["own_cpu_ms"] - base["own_cpu_ms"]
    outcome = "INVALID (errors)" if row["errors"] or base["errors"] else "informative, no goal"
    return (
        f"Parley sign-in: {row['rps_ratio']:.0%} of a bare argon2id verify's throughput "
        f"(same cost, {connections} connections); {extra:+.0f} ms of CPU per sign-in "
        f"({extra / base['own_cpu_ms']:+.0%}) around the same hash: {outcome}"
    )


def verdict_user_get(row: dict[str, Any], base: dict[str, Any]) -> str:
    met = row["rps_ratio"] >= GOAL_USER_GET
    invalid = row["errors"] or base["errors"]
    outcome = "INVALID (errors)" if invalid else ("goal met" if met else "goal missed")
    return (
        f"Parley authenticated read: {row['rps_ratio']:.0%} of the bare baseline's throughput "
        f"(goal ≥ {GOAL_USER_GET:.0%}), p99 {row['p99_ratio']:.2f}{TIMES}; CPU per request "
        f"{row['own_cpu_ms']:.2f} ms against {base['own_cpu_ms']:.2f} ms (cost ratio "
        f"{row['cost_ratio']:.2f}): {outcome}"
    )


def noise_warning(rows: dict[str, dict[str, Any]]) -> str | None:
    busiest = max(row["others_cores"] for row in rows.values())
    if busiest <= NOISE_CORES:
        return None
    return (
        f"warning: other work took up to {busiest:.2f} cores during these rounds (column "
        "'others'): the throughput ratios are skewed, the CPU cost ratios much less; "
        "rerun on a quiet machine"
    )


# -- main -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per target per round")
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--connections", type=int, default=64, help="for the user reads")
    parser.add_argument("--login-connections", type=int, default=8, help="for the sign-ins")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--warmup", type=int, default=2, help="unrecorded seconds per target")
    parser.add_argument("--users", type=int, default=200, help="users created in the tenant")
    parser.add_argument("--login-users", type=int, default=50, help="users who sign in")
    parser.add_argument("--json-out", type=Path, help="also write the results here as JSON")
    parser.add_argument(
        "--parley-dir",
        type=Path,
        default=REPO,
        help="the directory holding the `api` package Parley is served from (default: this "
        "repository); point it at a modified copy to measure a change (A/B)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="after the rounds, py-spy the server of --profile-target for --duration s "
        "under that target's load, and write its raw stacks here",
    )
    parser.add_argument("--profile-target", choices=tuple(BASELINE_OF), default=PARLEY_GET)
    args = parser.parse_args(argv)
    for name in ("duration", "runs", "connections", "login_connections", "threads", "users"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 1 <= args.login_users <= args.users:
        parser.error("--login-users must be between 1 and --users")
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace, work: Path) -> tuple[dict[str, Any], list[Load]]:
    with running_stack(work) as stack:
        start_servers(stack, secrets.token_urlsafe(48), args.parley_dir.resolve())
        log(f"bench: onboarding a tenant and {args.users} users (argon2 at Parley's defaults)")
        identity = onboard(stack.servers["parley"].port, args.users)
        check_answers(stack, identity)
        loads = loads_for(stack, identity, args, work)
        results = measure(stack, loads, args, work)
        if args.profile:
            target = next(load for load in loads if load.name == args.profile_target)
            profile(stack, target, args, work)
    return summarise_all(results), loads


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_wrk()
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="parley-bench-auth-") as tmp:
        rows, loads = run(args, Path(tmp))
    print()
    print(table(rows, loads, args.runs))
    print()
    print(verdict_login(rows[PARLEY_LOGIN], rows[BASE_LOGIN], args.login_connections))
    print(verdict_user_get(rows[PARLEY_GET], rows[BASE_GET]))
    warning = noise_warning(rows)
    if warning:
        print(warning)
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
