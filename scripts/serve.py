"""Run Parley on this machine: the supervisor behind ``scripts/serve``.

Starts an embedded MongoDB (SecantusDB) unless ``MONGO_URI`` is set, an embedded Redis
unless ``REDIS_URL`` or ``REDIS_HOST`` is set (the real environment first, then
``.env``), then Parley's own processes (see ``parley_commands``). Their data lives
under ``.data/`` and survives restarts; server logs go to ``.data/logs/``.

Ctrl-C (or SIGTERM) stops Parley's processes first, then the servers it started. If
any of them dies, the rest are stopped and the exit code is 1.

Settings read: ``HOST`` and ``PORT`` of the API (127.0.0.1:8000),
``EMBEDDED_MONGO_PORT`` (27217), ``EMBEDDED_REDIS_PORT`` (6380) and ``PARLEY_APP``
(the ASGI app factory, ``api.main:create_app``). Extra arguments go to uvicorn,
e.g. ``scripts/serve --reload``.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

# `python scripts/serve.py` puts scripts/ first on sys.path, as tests/conftest.py does.
from devservers import (
    ServerProcess,
    port_in_use,
    start_mongo,
    start_redis,
    stop_process_group,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
LOGS = DATA / "logs"
LOCK_FILE = DATA / "serve.lock"
EMBEDDED_ENV = DATA / "embedded.env"
STOP_TIMEOUT = 10.0
POLL_INTERVAL = 0.2
SERVER_NAMES = {"mongo": "MongoDB", "redis": "Redis"}
CELERY_APP = "api.worker:celery_app"
# uvicorn's httptools protocol with a wider read window and no copies of request bodies
# (api/interfaces/http/uvicorn_protocol.py; the Dockerfile's command names it too).
HTTP_PROTOCOL = "api.interfaces.http.uvicorn_protocol:ParleyHttpProtocol"


class ServeError(Exception):
    """A problem to report in one message, exiting with code 1."""


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    app: str
    mongo_uri: str
    redis_url: str
    redis_host: str
    mongo_port: int
    redis_port: int
    worker_concurrency: int
    flower_port: int
    flower_basic_auth: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            host=env.get("HOST") or "127.0.0.1",
            port=_int_setting(env, "PORT", 8000),
            app=env.get("PARLEY_APP") or "api.main:create_app",
            mongo_uri=env.get("MONGO_URI", ""),
            redis_url=env.get("REDIS_URL", ""),
            redis_host=env.get("REDIS_HOST", ""),
            mongo_port=_int_setting(env, "EMBEDDED_MONGO_PORT", 27217),
            redis_port=_int_setting(env, "EMBEDDED_REDIS_PORT", 6380),
            worker_concurrency=_int_setting(env, "WORKER_CONCURRENCY", 8),
            flower_port=_int_setting(env, "FLOWER_PORT", 5555),
            # The same development default as api/config.py; production refuses it.
            flower_basic_auth=(
                f"{env.get('FLOWER_USER') or 'admin'}:"
                f"{env.get('FLOWER_PASSWORD') or 'dev-insecure-flower-password'}"
            ),
        )


@dataclass(frozen=True)
class Command:
    """A long-running Parley process: started in order, stopped in the same order."""

    name: str
    argv: list[str]


def parley_commands(settings: Settings, extra_args: list[str]) -> list[Command]:
    """Every Parley process to run, in start order (and stop order)."""
    # --no-proxy-headers: uvicorn never trusts X-Forwarded-For itself (by default it would
    # from 127.0.0.1, or from its own reading of FORWARDED_ALLOW_IPS); the app decides,
    # from the FORWARDED_ALLOW_IPS setting, so there is one rule everywhere.
    api = [sys.executable, "-m", "uvicorn", settings.app, "--factory", "--no-proxy-headers"]
    api += ["--http", HTTP_PROTOCOL]
    api += ["--host", settings.host, "--port", str(settings.port), *extra_args]
    celery = [sys.executable, "-m", "celery", "-A", CELERY_APP]
    worker = [*celery, "worker", "--loglevel=INFO", "--pool=threads"]
    worker += [f"--concurrency={settings.worker_concurrency}"]
    beat = [*celery, "beat", "--loglevel=INFO"]  # redbeat: the schedule is in Redis
    flower = [*celery, "flower", f"--address={settings.host}", f"--port={settings.flower_port}"]
    return [
        Command("api", api),
        Command("worker", worker),
        Command("beat", beat),
        Command("flower", flower),
    ]


@dataclass
class Child:
    command: Command
    process: subprocess.Popen[bytes]


class Supervisor:
    """Owns every process serve starts; stops them all, in order, whatever happens."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.env = dict(os.environ)
        # Flower reads its options from FLOWER_* variables: keeps the password off argv.
        self.env["FLOWER_BASIC_AUTH"] = settings.flower_basic_auth
        self.servers: list[ServerProcess] = []
        self.children: list[Child] = []
        self.labels = {"MongoDB": "external", "Redis": "external"}
        self.signalled: int | None = None

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signalled = signum

    def start_servers(self) -> None:
        settings = self.settings
        if settings.mongo_uri:
            self.labels["MongoDB"] = f"external ({mask_url(settings.mongo_uri)})"
        else:
            self._start_mongo()
        if settings.redis_url:
            self.labels["Redis"] = f"external ({mask_url(settings.redis_url)})"
        elif settings.redis_host:
            self.labels["Redis"] = f"external ({settings.redis_host})"
        elif self.signalled is None:
            self._start_redis()

    def _start_mongo(self) -> None:
        port = self.settings.mongo_port
        _check_free(port, "MongoDB", "EMBEDDED_MONGO_PORT", "MONGO_URI")
        mongo = _embedded(
            "MongoDB",
            lambda: start_mongo(
                port=port,
                storage_path=str(DATA / "mongo"),
                standalone=True,
                sync_on_commit=True,  # an acknowledged write survives a crash
                log_file=str(LOGS / "mongo.log"),
            ),
        )
        self.servers.append(mongo)
        self.env["MONGO_URI"] = mongo.url
        self.labels["MongoDB"] = f"embedded (port {port}, data in .data/mongo)"

    def _start_redis(self) -> None:
        port = self.settings.redis_port
        _check_free(port, "Redis", "EMBEDDED_REDIS_PORT", "REDIS_URL")
        redis = _embedded(
            "Redis",
            lambda: start_redis(
                port=port,
                data_dir=str(DATA / "redis"),
                log_file=str(LOGS / "redis.log"),
            ),
        )
        self.servers.append(redis)
        self.env["REDIS_URL"] = redis.url
        self.labels["Redis"] = f"embedded (port {port}, data in .data/redis)"

    def start(self, command: Command) -> None:
        # argv is our own command line (plus the user's extra uvicorn arguments).
        process = subprocess.Popen(  # noqa: S603
            command.argv,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us; we stop children in order
        )
        self.children.append(Child(command, process))

    def watch(self) -> int:
        """Wait for a signal (exit 0) or a process that dies (exit 1)."""
        banner_due = True
        while self.signalled is None:
            if self._report_dead():
                return 1
            if banner_due and port_in_use(self.settings.host, self.settings.port):
                print(banner(self.settings, self.labels), flush=True)
                banner_due = False
            time.sleep(POLL_INTERVAL)
        print(f"\nparley: {signal.Signals(self.signalled).name}: stopping...", flush=True)
        return 0

    def _report_dead(self) -> bool:
        for child in self.children:
            if child.process.poll() is not None:
                name, code = child.command.name, child.process.returncode
                _error(f"{name} exited unexpectedly (code {code}); its output is above")
                return True
        for server in self.servers:
            if server.process.poll() is not None:
                name, code = SERVER_NAMES[server.name], server.process.returncode
                tail = server.log_tail() or "(empty)"
                _error(
                    f"the embedded {name} exited unexpectedly (code {code}); "
                    f"last lines of its log:\n{tail}"
                )
                return True
        return False

    def stop_all(self) -> None:
        for child in self.children:
            stop_process_group(child.process, STOP_TIMEOUT)
        for server in reversed(self.servers):
            server.stop(STOP_TIMEOUT)
        if self.children or self.servers:
            print("parley: stopped", flush=True)


def main(argv: list[str]) -> int:
    DATA.mkdir(exist_ok=True)
    try:
        lock = acquire_lock(LOCK_FILE)
    except ServeError as error:
        _error(str(error))
        return 1
    try:
        return run(argv)
    except ServeError as error:
        _error(str(error))
        return 1
    finally:
        lock.close()  # releases the lock


def run(argv: list[str]) -> int:
    settings = Settings.from_env({**read_dotenv(ROOT / ".env"), **os.environ})
    if port_in_use(settings.host, settings.port):
        raise ServeError(
            f"port {settings.port} is already in use on {settings.host}: stop what "
            "uses it, or set PORT to another port"
        )
    supervisor = Supervisor(settings)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, supervisor.on_signal)
    try:
        supervisor.start_servers()
        write_embedded_env(supervisor.env, settings)
        for command in parley_commands(settings, argv):
            if supervisor.signalled is None:
                supervisor.start(command)
        return supervisor.watch()
    finally:
        supervisor.stop_all()
        EMBEDDED_ENV.unlink(missing_ok=True)


def write_embedded_env(env: Mapping[str, str], settings: Settings) -> None:
    """Tell `scripts/cli` (and curious developers) where the embedded servers listen."""
    lines = [f"{name}={env[name]}" for name in ("MONGO_URI", "REDIS_URL") if name in env]
    if not settings.mongo_uri or not (settings.redis_url or settings.redis_host):
        EMBEDDED_ENV.write_text("\n".join(lines) + "\n", encoding="utf-8")


def acquire_lock(path: Path) -> IO[str]:
    """Hold ``path`` locked for as long as the returned file stays open."""
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - closed by main()
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        pid = handle.read().strip() or "unknown"
        handle.close()
        raise ServeError(
            f"Parley is already running (pid {pid}); stop it first "
            f"(Ctrl-C in its terminal or kill {pid})"
        ) from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of a ``.env`` file; comments and blank lines are skipped."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip().removeprefix("export ").strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = _dotenv_value(value.strip())
    return values


def _dotenv_value(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value.split(" #", 1)[0].strip()


def mask_url(url: str) -> str:
    """``scheme://host:port`` of ``url``: no user, password, path or query."""
    scheme, _, rest = url.partition("://")
    hosts = rest.split("/", 1)[0].split("?", 1)[0]
    if "@" in hosts:
        hosts = "***@" + hosts.rpartition("@")[2]
    return f"{scheme}://{hosts}"


def banner(settings: Settings, labels: Mapping[str, str]) -> str:
    base = f"http://{_display_host(settings.host)}:{settings.port}"
    servers = " | ".join(f"{name}: {label}" for name, label in labels.items())
    flower = f"http://{_display_host(settings.host)}:{settings.flower_port}"
    return (
        f"Parley is up: API {base} | docs {base}/docs | Flower {flower} (FLOWER_USER/"
        f"FLOWER_PASSWORD) | worker + beat | {servers} | Ctrl-C to stop"
    )


def _display_host(host: str) -> str:
    if host in ("0.0.0.0", ""):  # noqa: S104 - compared, not bound
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _check_free(port: int, name: str, port_key: str, url_key: str) -> None:
    if port_in_use("127.0.0.1", port):
        raise ServeError(
            f"port {port} for the embedded {name} is already in use (is an earlier "
            f"Parley still running?); set {port_key} to another port, or {url_key} "
            f"to use a {name} of your own"
        )


def _embedded(name: str, start: Callable[[], ServerProcess]) -> ServerProcess:
    try:
        return start()
    except (RuntimeError, FileNotFoundError) as error:
        raise ServeError(f"could not start the embedded {name}: {error}") from error


def _int_setting(env: Mapping[str, str], key: str, default: int) -> int:
    value = env.get(key) or str(default)
    try:
        return int(value)
    except ValueError:
        raise ServeError(f"{key} must be a port number, not {value!r}") from None


def _error(message: str) -> None:
    print(f"parley: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
