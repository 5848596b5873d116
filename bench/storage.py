"""Parley's file storage (local provider): upload and download against a plain file copy.

    uv run --frozen python bench/storage.py [--size-mb 200] [--runs 3]

Starts its own SecantusDB (standalone, in memory), Redis and one Parley uvicorn worker on
free ports, onboards a tenant through the HTTP API as the platform admin and signs its
owner in. Writes a test file of ``--size-mb`` MB (random bytes behind a PNG signature, so
Parley sniffs it as ``image/png``), then, ``--runs`` times: copies it with
``shutil.copyfile`` (with and without ``os.fsync``), uploads it with ``curl -F`` to
``POST /api/v1/upload`` and downloads it with ``curl`` through the signed link the upload
answered, checking the SHA-256 both ways. Parley's RSS is sampled every 20 ms during each
transfer (and the kernel's high-water mark read). Prints a markdown table of medians and
the verdict on the issue's goals. Everything it started is stopped and every file it
wrote removed on exit, Ctrl-C and errors included. Reuses ``bench/tenant_read.py``'s
process and Mongo/Redis helpers. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# bench/ (this script's directory) is on sys.path already: `tenant_read` is imported under
# that name, the one mypy gives it too (bench/ has no __init__.py to make `bench.` a package).
if str(REPO / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO / "scripts"))

import devservers  # noqa: E402 - found through the path set just above
from auth import (  # noqa: E402 - the HTTP set-up calls and /proc readings bench/auth.py uses
    bearer,
    call,
    children_cpu_seconds,
    cpu_seconds,
    expect,
    machine_busy_seconds,
)
from tenant_read import (  # noqa: E402
    HOST,
    Stack,
    Uvicorn,
    _raise_on_sigterm,
    parley_env,
    running_stack,
    wait_until_answers,
)

MB = 1024 * 1024  # every "MB" here is 2**20 bytes (RSS too: /proc reports KiB)
GOAL_RATIO = 0.50
GOAL_RSS_MB = 64.0
NOISE_CORES = 0.30  # other CPU use during a transfer above this: the machine was shared
SAMPLE_EVERY = 0.020  # seconds between RSS samples
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WRITE_BLOCK = 4 * MB
WARMUP_BYTES = 2 * MB  # more than one MiB batch: the hashing and writing threads are warmed
LOGIN_PATH = "/api/v1/auth/login"
UPLOAD_PATH = "/api/v1/upload"

# Throwaway credentials of this run's private, in-memory database.
ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_PASSWORD = "bench-admin-password-1"  # noqa: S105
OWNER_EMAIL = "owner@bench-storage.example.com"
OWNER_PASSWORD = "bench-owner-password-1"  # noqa: S105

T = TypeVar("T")


# -- the server process, from /proc -----------------------------------------------------


def status_kb(pid: int, name: str) -> int:
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {name}")


def reset_peak_rss(pid: int) -> bool:
    """Reset the kernel's RSS high-water mark (VmHWM) to the current RSS (Linux >= 4.0)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def run_ns(pid: int, tid: int) -> int:
    """Time one thread of `pid` has run on a CPU, in ns (/proc/<pid>/task/<tid>/schedstat:
    nanoseconds, where /proc/<pid>/stat counts 10 ms ticks)."""
    return int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])


def threads_run_ns(pid: int) -> dict[int, int]:
    """`run_ns` of every live thread of `pid` (the loop's is `pid` itself)."""
    times = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError):
            times[int(task.name)] = run_ns(pid, int(task.name))
    return times


def io_counters(pid: int) -> dict[str, int]:
    """/proc/<pid>/io: `rchar`/`wchar` count the bytes of every read/write-like syscall
    (files and sockets alike)."""
    lines = Path(f"/proc/{pid}/io").read_text().splitlines()
    return {key: int(value) for key, value in (line.split(": ") for line in lines)}


@dataclass(frozen=True)
class Watched:
    """What the server did while one transfer ran."""

    rss_before_kb: int
    rss_sampled_peak_kb: int
    rss_hwm_kb: int | None  # the kernel's peak since the reset; None if it could not reset
    samples: int
    cpu_s: float
    threads_ns: int  # CPU time of the threads alive at the end (ns; new ones from zero)
    loop_ns: int  # CPU time of the main thread, the event loop's (ns)
    machine_s: float  # busy CPU time of the whole machine over the same window
    wall_s: float
    rchar: int
    wchar: int
    part_first: float | None  # monotonic times an upload's `.upload-*.part` file was seen
    part_last: float | None

    @property
    def peak_kb(self) -> int:
        return max(self.rss_sampled_peak_kb, self.rss_hwm_kb or 0)

    @property
    def growth_mb(self) -> float:
        return (self.peak_kb - self.rss_before_kb) / 1024


def watched(pid: int, part_dir: Path | None, action: Callable[[], T]) -> tuple[T, Watched]:
    """Run `action` while a thread samples the server's RSS every 20 ms and, when
    `part_dir` is given, notes when the local adapter's temporary file exists in it."""
    hwm_reset = reset_peak_rss(pid)
    before_kb = status_kb(pid, "VmRSS")
    cpu_before, io_before = cpu_seconds(pid), io_counters(pid)
    threads_before = threads_run_ns(pid)
    machine_before, wall_before = machine_busy_seconds(), time.monotonic()
    peak = [before_kb]
    samples = [0]
    part_seen: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while True:
            with contextlib.suppress(OSError, RuntimeError, ValueError):
                peak[0] = max(peak[0], status_kb(pid, "VmRSS"))
                samples[0] += 1
            if part_dir is not None:
                with contextlib.suppress(OSError), os.scandir(part_dir) as entries:
                    if any(e.name.startswith(".upload-") for e in entries):
                        part_seen.append(time.monotonic())
            if stop.wait(SAMPLE_EVERY):
                return

    thread = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    thread.start()
    try:
        result = action()
    finally:
        stop.set()
        thread.join()
    io_after = io_counters(pid)
    threads_after = threads_run_ns(pid)
    return result, Watched(
        rss_before_kb=before_kb,
        rss_sampled_peak_kb=max(peak[0], status_kb(pid, "VmRSS")),
        rss_hwm_kb=status_kb(pid, "VmHWM") if hwm_reset else None,
        samples=samples[0],
        cpu_s=cpu_seconds(pid) - cpu_before,
        threads_ns=sum(ns - threads_before.get(tid, 0) for tid, ns in threads_after.items()),
        loop_ns=threads_after.get(pid, 0) - threads_before.get(pid, 0),
        machine_s=machine_busy_seconds() - machine_before,
        wall_s=time.monotonic() - wall_before,
        rchar=io_after["rchar"] - io_before["rchar"],
        wchar=io_after["wchar"] - io_before["wchar"],
        part_first=part_seen[0] if part_seen else None,
        part_last=part_seen[-1] if part_seen else None,
    )


# -- files --------------------------------------------------------------------------------


def write_payload(path: Path, size: int) -> str:
    """`size` random bytes behind a PNG signature (sniffed as image/png); its SHA-256."""
    digest = hashlib.sha256()
    written = 0
    with open(path, "wb") as file:
        while written < size:
            block = os.urandom(min(WRITE_BLOCK, size - written))
            if written == 0:
                block = PNG_SIGNATURE + block[len(PNG_SIGNATURE) :]
            file.write(block)
            digest.update(block)
            written += len(block)
        file.flush()
        os.fsync(file.fileno())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def timed_copy(source: Path, target: Path, *, fsync: bool) -> float:
    """Seconds for `shutil.copyfile` (in-kernel on Linux), then `os.fsync` of the copy when
    asked; the copy is removed afterwards, and everything written flushed (not timed)."""
    start = time.perf_counter()
    shutil.copyfile(source, target)
    if fsync:
        fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    seconds = time.perf_counter() - start
    target.unlink()
    os.sync()
    return seconds


# -- HTTP ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    tenant_id: str
    headers: dict[str, str]  # the owner's bearer token and the tenant header
    header_file: Path  # the same, for `curl -H @file` (the token stays out of argv)


def onboard(port: int, work: Path) -> Session:
    """A tenant and its owner through the platform admin; the owner signed in."""
    login = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    admin = expect(call(port, "POST", LOGIN_PATH, login), 200, "platform admin sign-in")
    tenant = {
        "name": "Bench Storage",
        "subdomain": "bench-storage",
        "owner_email": OWNER_EMAIL,
        "owner_password": OWNER_PASSWORD,
        "owner_full_name": "Olivia Owner",
    }
    created = expect(
        call(port, "POST", "/api/v1/tenants", tenant, {"Authorization": bearer(admin)}),
        201,
        "tenant creation",
    )
    tenant_id = str(created["id"])
    login = {"email": OWNER_EMAIL, "password": OWNER_PASSWORD}
    owner = expect(
        call(port, "POST", LOGIN_PATH, login, {"X-Tenant-ID": tenant_id}), 200, "owner sign-in"
    )
    headers = {"Authorization": bearer(owner), "X-Tenant-ID": tenant_id}
    header_file = work / "owner.headers"
    header_file.touch(mode=0o600)
    header_file.write_text("".join(f"{k}: {v}\n" for k, v in headers.items()))
    return Session(tenant_id, headers, header_file)


@dataclass(frozen=True)
class Curl:
    status: int
    seconds: float  # curl's own time_total (connect to last byte), without its start-up
    started: float  # monotonic, just before curl was started
    ended: float  # monotonic, once it exited
    client_cpu_s: float


def run_curl(args: list[str], output: Path) -> Curl:
    """curl with its body to `output` (streamed to disk); fails on a transport error."""
    argv = ["curl", "-sS", "-o", str(output), "-w", "%{http_code} %{time_total}", *args]
    cpu_before = children_cpu_seconds()
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    ended = time.monotonic()
    if result.returncode != 0:
        raise RuntimeError(f"curl exited {result.returncode}: {result.stderr.strip()}")
    status, seconds = result.stdout.split()
    return Curl(int(status), float(seconds), started, ended, children_cpu_seconds() - cpu_before)


def curl_upload(port: int, session: Session, payload: Path, answer: Path) -> Curl:
    """`curl -F`: a multipart body streamed from disk by curl, outside Parley's process;
    `Expect:` so curl does not wait for a `100 Continue` first."""
    form = f"file=@{payload};type=image/png;filename=bench.png"
    url = f"http://{HOST}:{port}{UPLOAD_PATH}"
    return run_curl(["-H", "Expect:", "-H", f"@{session.header_file}", "-F", form, url], answer)


def curl_download(url: str, target: Path) -> Curl:
    """The signed link alone (no token, no tenant header), written to disk as it arrives."""
    return run_curl([url], target)


def check_upload(curl: Curl, answer: Path, size: int, sha256: str, what: str) -> dict[str, Any]:
    raw = answer.read_bytes()
    answer.unlink()
    if curl.status != 201:
        body = json.loads(raw) if raw.startswith(b"{") else {}
        detail = {k: body.get(k) for k in ("title", "detail")}
        raise RuntimeError(f"{what}: HTTP {curl.status}, expected 201 {detail}")
    stored = json.loads(raw)
    if stored.get("sha256") != sha256 or stored.get("size") != size:
        raise RuntimeError(f"{what}: stored {stored.get('size')} bytes, sha256 "
                           f"{stored.get('sha256')}; sent {size}, {sha256}")  # fmt: skip
    if stored.get("content_type") != "image/png":
        raise RuntimeError(f"{what}: sniffed as {stored.get('content_type')}, not image/png")
    return dict(stored)


def check_download(curl: Curl, target: Path, size: int, sha256: str, what: str) -> None:
    if curl.status != 200:
        raise RuntimeError(f"{what}: HTTP {curl.status}, expected 200")
    got_size, got_sha = target.stat().st_size, file_sha256(target)
    target.unlink()
    if (got_size, got_sha) != (size, sha256):
        raise RuntimeError(f"{what}: got {got_size} bytes, sha256 {got_sha}; "
                           f"expected {size}, {sha256}")  # fmt: skip


def delete_file(port: int, session: Session, file_id: str) -> None:
    answer = call(port, "DELETE", f"/api/v1/files/{file_id}", headers=session.headers)
    expect(answer, 204, "file deletion")
    os.sync()  # the deleted blob's pages: not flushed inside the next measurement


# -- the server under test --------------------------------------------------------------------


@dataclass(frozen=True)
class Paths:
    work: Path
    payload: Path
    blobs: Path
    spool: Path
    copy: Path
    download: Path
    answer: Path


def make_paths(work: Path) -> Paths:
    paths = Paths(
        work=work,
        payload=work / "payload.png",
        blobs=work / "blobs",
        spool=work / "spool",
        copy=work / "copy.bin",
        download=work / "download.bin",
        answer=work / "upload-answer.json",
    )
    paths.blobs.mkdir()
    paths.spool.mkdir()
    devices = {os.stat(p).st_dev for p in (work, paths.blobs, paths.spool)}
    if len(devices) != 1:
        raise RuntimeError("the scratch directories are not on one filesystem")
    return paths


HTTP_PROTOCOL = "api.interfaces.http.uvicorn_protocol:ParleyHttpProtocol"
HTTP_PROTOCOL_FILE = "api/interfaces/http/uvicorn_protocol.py"


def start_parley(stack: Stack, paths: Paths, size: int, parley_dir: Path = REPO) -> Uvicorn:
    """One uvicorn worker, from the scratch directory (a developer's `.env` is not read),
    on a port chosen first so that signed links name this server."""
    port = devservers.free_port()
    env = {
        **parley_env(stack, "5"),
        "ADMIN_EMAIL": ADMIN_EMAIL,
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "ACCESS_TOKEN_TTL_SECONDS": "3600",  # the owner's token outlives the run
        "STORAGE_DEFAULT_PROVIDER": "local",
        "LOCAL_STORAGE_DIR": str(paths.blobs),
        "MAX_UPLOAD_BYTES": str(size + 64 * MB),
        "PUBLIC_BASE_URL": f"http://{HOST}:{port}",
        "TMPDIR": str(paths.spool),  # temporary files (uploads spool none), on the same disk
    }
    argv = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory"]
    argv += ["--app-dir", str(parley_dir), "--host", HOST, "--port", str(port)]
    argv += ["--workers", "1", "--no-access-log", "--log-level", "warning"]
    if (parley_dir / HTTP_PROTOCOL_FILE).exists():  # as scripts/serve and the image run it
        argv += ["--http", HTTP_PROTOCOL]  # (an older copy of `api/` runs as it ran then)
    log_path = paths.work / "parley.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=paths.work,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: Ctrl-C reaches us, we stop it
        )
    server = Uvicorn("parley", port, process, log_path)
    stack.servers["parley"] = server  # stopped by `running_stack` on the way out
    wait_until_answers(server, "/health")
    return server


# -- one run ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    size: int
    copy_fsync_s: float
    copy_plain_s: float
    upload: Curl
    upload_server: Watched
    download: Curl
    download_server: Watched

    def mbs(self, seconds: float) -> float:
        return self.size / MB / seconds

    def figures(self) -> dict[str, float]:
        up, down = self.upload_server, self.download_server
        copy_fsync, copy_plain = self.mbs(self.copy_fsync_s), self.mbs(self.copy_plain_s)
        upload, download = self.mbs(self.upload.seconds), self.mbs(self.download.seconds)
        figures = {
            "copy_fsync_mbs": copy_fsync,
            "copy_plain_mbs": copy_plain,
            "upload_mbs": upload,
            "download_mbs": download,
            "upload_vs_copy_fsync": upload / copy_fsync,
            "upload_vs_copy_plain": upload / copy_plain,
            "download_vs_copy_plain": download / copy_plain,
            "download_vs_copy_fsync": download / copy_fsync,
            "upload_rss_growth_mb": up.growth_mb,
            "download_rss_growth_mb": down.growth_mb,
            "rss_before_upload_mb": up.rss_before_kb / 1024,
            "upload_server_cores": up.cpu_s / self.upload.seconds,
            "download_server_cores": down.cpu_s / self.download.seconds,
            "upload_client_cores": self.upload.client_cpu_s / self.upload.seconds,
            "upload_server_ms_per_mib": up.threads_ns / 1e6 / (self.size / MB),
            "upload_loop_ms_per_mib": up.loop_ns / 1e6 / (self.size / MB),
            "upload_other_cores": others(up, self.upload),
            "download_other_cores": others(down, self.download),
            "download_client_cores": self.download.client_cpu_s / self.download.seconds,
            "upload_server_read_x": up.rchar / self.size,
            "upload_server_write_x": up.wchar / self.size,
            "download_server_read_x": down.rchar / self.size,
            "download_server_write_x": down.wchar / self.size,
        }
        if up.part_first is not None and up.part_last is not None:
            # Until the adapter's temporary file appears: auth, tenant and settings, the
            # body up to the file part's first 64 KiB (sniffed); while it exists: the rest
            # of the body received, parsed, hashed and written as it comes, then fsynced;
            # after: metadata, audit, answer. (Keys named before uploads stopped spooling.)
            figures["upload_spool_s"] = up.part_first - self.upload.started
            figures["upload_store_s"] = up.part_last - up.part_first
            figures["upload_answer_s"] = self.upload.ended - up.part_last
        return figures


def others(server: Watched, client: Curl) -> float:
    """Cores the machine spent on anything but Parley and curl during a transfer: other
    processes, and kernel work done outside both (writeback, for one); a few hundredths
    when nothing else runs."""
    return max(server.machine_s - server.cpu_s - client.client_cpu_s, 0.0) / server.wall_s


def one_run(port: int, pid: int, session: Session, paths: Paths, sha256: str) -> Run:
    size = paths.payload.stat().st_size
    copy_fsync = timed_copy(paths.payload, paths.copy, fsync=True)
    copy_plain = timed_copy(paths.payload, paths.copy, fsync=False)
    part_dir = paths.blobs / "tenants" / session.tenant_id
    up, up_server = watched(
        pid, part_dir, lambda: curl_upload(port, session, paths.payload, paths.answer)
    )
    stored = check_upload(up, paths.answer, size, sha256, "upload")
    os.sync()
    down, down_server = watched(pid, None, lambda: curl_download(stored["url"], paths.download))
    check_download(down, paths.download, size, sha256, "download")
    delete_file(port, session, stored["id"])
    return Run(size, copy_fsync, copy_plain, up, up_server, down, down_server)


def warm_up(port: int, session: Session, paths: Paths) -> None:
    """One small upload and download (more than one MiB batch), not measured: the code
    paths are imported and the tenant's blob folder exists before the first measurement."""
    small = paths.work / "warmup.png"
    sha256 = write_payload(small, WARMUP_BYTES)
    up = curl_upload(port, session, small, paths.answer)
    stored = check_upload(up, paths.answer, WARMUP_BYTES, sha256, "warm-up upload")
    down = curl_download(stored["url"], paths.download)
    check_download(down, paths.download, WARMUP_BYTES, sha256, "warm-up download")
    delete_file(port, session, stored["id"])
    small.unlink()


def describe(number: int, run: Run) -> str:
    f = run.figures()
    phases = ""
    if "upload_spool_s" in f:
        phases = (f" (to the blob file {f['upload_spool_s']:.2f} s, body to blob + fsync "
                  f"{f['upload_store_s']:.2f} s, "
                  f"answer {f['upload_answer_s']:.2f} s)")  # fmt: skip
    return (
        f"run {number}: copy {f['copy_fsync_mbs']:.0f} MB/s with fsync, "
        f"{f['copy_plain_mbs']:.0f} without | upload {f['upload_mbs']:.0f} MB/s{phases}, "
        f"RSS +{f['upload_rss_growth_mb']:.1f} MB, server {f['upload_server_cores']:.2f} cores"
        f" ({f['upload_server_ms_per_mib']:.2f} ms/MiB, loop {f['upload_loop_ms_per_mib']:.2f}, "
        f"other {f['upload_other_cores']:.2f} cores)"
        f" | download {f['download_mbs']:.0f} MB/s, RSS +{f['download_rss_growth_mb']:.1f} MB,"
        f" server {f['download_server_cores']:.2f} cores, "
        f"curl {f['download_client_cores']:.2f} cores | RSS samples "
        f"{run.upload_server.samples}/{run.download_server.samples}"
    )


# -- profiling ---------------------------------------------------------------------------------


def py_spy_argv(pid: int, output: Path, gil: bool) -> list[str]:
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError("--profile needs `uv` on PATH (it runs py-spy with `uv run --with`)")
    argv = [uv, "run", "--with", "py-spy", "--no-project", "py-spy", "record", "--pid", str(pid)]
    argv += ["--rate", "200", "--threads", "--format", "raw", "--output", str(output)]
    return [*argv, "--gil"] if gil else argv


def profiled(pid: int, output: Path, log: Path, gil: bool, action: Callable[[], T]) -> T:
    """`action` while py-spy samples the server; stopped with SIGINT, which makes it write."""
    with open(log, "ab") as sink:
        spy = subprocess.Popen(
            py_spy_argv(pid, output, gil), stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        time.sleep(1.0)  # py-spy attaches
        if spy.poll() is not None:
            raise RuntimeError(f"py-spy exited early:\n{log.read_text(errors='replace')}")
        result = action()
        os.killpg(spy.pid, signal.SIGINT)
        spy.wait(timeout=60)
    finally:
        if spy.poll() is None:
            devservers.stop_process_group(spy, timeout=5.0)
    if not output.exists():
        raise RuntimeError(f"py-spy wrote no profile:\n{log.read_text(errors='replace')}")
    return result


# Functions of the storage path: the share of samples spent in each, callees included.
LANDMARKS = (
    (
        "RequestResponseCycle.receive (uvicorn/protocols/http/httptools_impl.py)",
        "uvicorn handing a body piece to the app",
    ),
    (
        "HttpToolsProtocol.data_received (uvicorn/protocols/http/httptools_impl.py)",
        "uvicorn parsing what the socket gave (httptools)",
    ),
    ("_Reader._feed (api/interfaces/http/multipart.py)", "upload: a body piece to the parser"),
    ("MultipartParser.write (python_multipart/multipart.py)", "  parsing the multipart body"),
    ("FileStore.store (api/usecases/files/file_store.py)", "upload: sniff, count, store"),
    ("_Meter._count (api/usecases/files/file_store.py)", "  counting (hashing handed over)"),
    ("_update (api/usecases/files/file_store.py)", "  SHA-256 (worker thread)"),
    ("LocalBlobStorage.put (api/infrastructure/storage/local.py)", "  the adapter's loop"),
    ("_BlobFile.write (api/infrastructure/storage/local.py)", "  blob writes (worker thread)"),
    ("_BlobFile.commit (api/infrastructure/storage/local.py)", "  final fsync and rename"),
    ("LocalBlobStorage.open (api/infrastructure/storage/local.py)", "blob reads (download)"),
    ("StreamingResponse.stream_response (starlette/responses.py)", "response streaming"),
    ("_WorkItem.run (concurrent/futures/thread.py)", "asyncio.to_thread work items"),
)
# Leaves of a thread blocked in C on a lock or a queue (py-spy may count them as busy).
WAITING = ("Condition.wait (threading.py)", "_worker (concurrent/futures/thread.py)")


def summarise_profile(path: Path, top: int = 12) -> Iterator[str]:
    """Samples by thread, the functions with most samples of their own, and the share of
    the storage path's landmark functions (callees included)."""
    threads: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        thread, *frames = stack.split(";")  # --threads: the first "frame" names the thread
        # "function (file:line)" -> "function (file)": one entry per function
        frames = [frame.rsplit(":", 1)[0] + ")" if ":" in frame else frame for frame in frames]
        total += count
        threads[thread.split(": ", 1)[-1]] += count
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count

    def share(count: int) -> str:
        return f"{count / max(total, 1):6.1%}"

    waiting = sum(own.pop(frame, 0) for frame in WAITING)
    yield f"{total} samples at 200/s"
    yield "-- by thread: " + ", ".join(f"{n} {share(c).strip()}" for n, c in threads.most_common())
    yield f"{share(waiting)}  threads blocked on a lock or queue ({', '.join(WAITING)})"
    yield (
        f"-- top {top} functions, own time (C code counts in its Python caller: "
        "Runner.run's own is uvloop's C loop, i.e. socket I/O, polling, C callbacks)"
    )
    for frame, count in own.most_common(top):
        yield f"{share(count)}  {frame}"
    yield "-- storage path, callees included"
    for frame, label in LANDMARKS:
        yield f"{share(inclusive[frame])}  {label}: {frame}"


def profile(
    server: tuple[int, int], session: Session, paths: Paths, sha256: str, args: argparse.Namespace
) -> None:
    """One more upload and download, each under py-spy; raw stacks to `args.profile`."""
    port, pid = server
    folder: Path = args.profile.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    size = paths.payload.stat().st_size
    log = paths.work / "py-spy.log"
    up_file, down_file = folder / "upload.txt", folder / "download.txt"
    up = profiled(pid, up_file, log, args.profile_gil,
                  lambda: curl_upload(port, session, paths.payload, paths.answer))  # fmt: skip
    stored = check_upload(up, paths.answer, size, sha256, "profiled upload")
    down = profiled(pid, down_file, log, args.profile_gil,
                    lambda: curl_download(stored["url"], paths.download))  # fmt: skip
    check_download(down, paths.download, size, sha256, "profiled download")
    delete_file(port, session, stored["id"])
    mode = "the thread holding the GIL" if args.profile_gil else "every thread not idle"
    for name, curl, raw in (("upload", up, up_file), ("download", down, down_file)):
        print(f"\nprofile of one {name} ({size / MB / curl.seconds:.0f} MB/s while sampled; "
              f"{mode}): {raw}", file=sys.stderr)  # fmt: skip
        for line in summarise_profile(raw):
            print(line, file=sys.stderr)


# -- reporting ------------------------------------------------------------------------------------


def summarise(runs: list[Run]) -> dict[str, dict[str, float]]:
    """Median and range of every figure over the runs (ratios paired within each run)."""
    per_run = [run.figures() for run in runs]
    keys = [key for key in per_run[0] if all(key in f for f in per_run)]
    return {
        key: {
            "median": statistics.median(f[key] for f in per_run),
            "min": min(f[key] for f in per_run),
            "max": max(f[key] for f in per_run),
        }
        for key in keys
    }


def verdicts(rows: dict[str, dict[str, float]]) -> dict[str, bool]:
    def med(key: str) -> float:
        return rows[key]["median"]

    return {
        "upload_vs_copy_fsync": med("upload_vs_copy_fsync") >= GOAL_RATIO,
        "download_vs_copy_plain": med("download_vs_copy_plain") >= GOAL_RATIO,
        "upload_rss_growth_mb": med("upload_rss_growth_mb") < GOAL_RSS_MB,
        "download_rss_growth_mb": med("download_rss_growth_mb") < GOAL_RSS_MB,
    }


TABLE_ROWS: list[tuple[str, str, str, str]] = [
    # key, label, format, goal
    ("copy_fsync_mbs", "copy, `shutil.copyfile` + `os.fsync` (MB/s)", "{:.0f}", ""),
    ("copy_plain_mbs", "copy, `shutil.copyfile`, no fsync (MB/s)", "{:.0f}", ""),
    ("upload_mbs", "upload, `POST /api/v1/upload` (MB/s)", "{:.0f}", ""),
    ("upload_vs_copy_fsync", "upload / copy with fsync (both fsync)", "{:.2f}", "≥ 0.50"),
    ("upload_vs_copy_plain", "upload / copy without fsync", "{:.2f}", ""),
    ("upload_spool_s", "upload phase: until the blob file opens (auth, sniff) (s)", "{:.2f}", ""),
    ("upload_store_s", "upload phase: body → parse → hash → blob + fsync (s)", "{:.2f}", ""),
    ("upload_answer_s", "upload phase: metadata, audit, answer (s)", "{:.2f}", ""),
    ("upload_server_cores", "upload: Parley CPU (cores)", "{:.2f}", ""),
    ("upload_server_ms_per_mib", "upload: Parley CPU per MiB, all threads (ms)", "{:.2f}", ""),
    ("upload_loop_ms_per_mib", "upload: Parley CPU per MiB, event loop thread (ms)", "{:.2f}", ""),
    ("upload_client_cores", "upload: curl CPU (cores)", "{:.2f}", ""),
    ("upload_other_cores", "upload: other CPU use on the machine (cores)", "{:.2f}", ""),
    ("upload_server_read_x", "upload: Parley bytes read (sockets + files) / size", "{:.2f}", ""),
    ("upload_server_write_x", "upload: Parley bytes written / size", "{:.2f}", ""),
    ("download_mbs", "download, signed `GET /api/v1/files/download` (MB/s)", "{:.0f}", ""),
    ("download_vs_copy_plain", "download / copy, no fsync (neither fsyncs)", "{:.2f}", "≥ 0.50"),
    ("download_vs_copy_fsync", "download / copy with fsync", "{:.2f}", ""),
    ("download_server_cores", "download: Parley CPU (cores)", "{:.2f}", ""),
    ("download_client_cores", "download: curl CPU (cores)", "{:.2f}", ""),
    ("download_other_cores", "download: other CPU use on the machine (cores)", "{:.2f}", ""),
    ("rss_before_upload_mb", "Parley RSS before an upload (MB)", "{:.0f}", ""),
    ("upload_rss_growth_mb", "Parley RSS growth during an upload (MB)", "{:.1f}", "< 64"),
    ("download_rss_growth_mb", "Parley RSS growth during a download (MB)", "{:.1f}", "< 64"),
]


def table(rows: dict[str, dict[str, float]], runs: int) -> str:
    met = verdicts(rows)
    lines = [
        f"| measure | median of {runs} | range | goal | result |",
        "|---|---:|---:|---|---|",
    ]
    for key, label, fmt, goal in TABLE_ROWS:
        if key not in rows:
            continue
        row = rows[key]
        span = f"{fmt.format(row['min'])}-{fmt.format(row['max'])}"
        result = ("PASS" if met[key] else "MISS") if key in met else ""
        lines.append(f"| {label} | {fmt.format(row['median'])} | {span} | {goal} | {result} |")
    return "\n".join(lines)


def verdict_lines(rows: dict[str, dict[str, float]]) -> list[str]:
    met = verdicts(rows)

    def med(key: str) -> float:
        return rows[key]["median"]

    def word(*keys: str) -> str:
        return "goal met" if all(met[k] for k in keys) else "goal missed"

    return [
        f"Upload: {med('upload_mbs'):.0f} MB/s, {med('upload_vs_copy_fsync'):.2f} of the "
        f"copy's throughput with fsync (goal ≥ {GOAL_RATIO:.2f}), RSS growth "
        f"{med('upload_rss_growth_mb'):.1f} MB (goal < {GOAL_RSS_MB:.0f} MB): "
        f"{word('upload_vs_copy_fsync', 'upload_rss_growth_mb')}",
        f"Download: {med('download_mbs'):.0f} MB/s, {med('download_vs_copy_plain'):.2f} of "
        f"the copy's throughput without fsync (goal ≥ {GOAL_RATIO:.2f}), RSS growth "
        f"{med('download_rss_growth_mb'):.1f} MB (goal < {GOAL_RSS_MB:.0f} MB): "
        f"{word('download_vs_copy_plain', 'download_rss_growth_mb')}",
    ]


# -- main -----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=200, help="test file size (2**20 bytes)")
    parser.add_argument("--runs", type=int, default=3, help="copy, upload, download rounds")
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
        help="after the runs, one more upload and download under py-spy (200 Hz, per "
        "thread); raw stacks go to this folder, a summary to stderr",
    )
    parser.add_argument(
        "--profile-gil",
        action="store_true",
        help="with --profile: sample only the thread holding the GIL (py-spy --gil): what "
        "the Python side spends its time on; C code that releases the GIL (file I/O, "
        "SHA-256 of large buffers) is then not seen",
    )
    args = parser.parse_args(argv)
    for name in ("size_mb", "runs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if shutil.which("curl") is None:
        parser.error("this bench needs `curl` (Debian package `curl`)")
    return args


def run(args: argparse.Namespace, work: Path) -> list[Run]:
    paths = make_paths(work)
    size = args.size_mb * MB
    print(f"bench: writing a {args.size_mb} MB test file...", file=sys.stderr, flush=True)
    sha256 = write_payload(paths.payload, size)
    with running_stack(work) as stack:
        server = start_parley(stack, paths, size, args.parley_dir.resolve())
        port, pid = server.port, server.process.pid
        session = onboard(port, work)
        warm_up(port, session, paths)
        runs: list[Run] = []
        for number in range(1, args.runs + 1):
            runs.append(one_run(port, pid, session, paths, sha256))
            print(describe(number, runs[-1]), file=sys.stderr, flush=True)
        if args.profile:
            profile((port, pid), session, paths, sha256, args)
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="parley-bench-storage-") as tmp:
        runs = run(args, Path(tmp))
    rows = summarise(runs)
    print()
    print(table(rows, args.runs))
    print()
    for line in verdict_lines(rows):
        print(line)
    busiest = max(rows[k]["max"] for k in ("upload_other_cores", "download_other_cores"))
    if busiest > NOISE_CORES:
        print(f"warning: other work took up to {busiest:.2f} cores during the transfers: "
              "the machine was shared, rerun on a quiet machine")  # fmt: skip
    if args.json_out:
        config = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        report = {
            "date": datetime.now(UTC).isoformat(),
            "config": config,
            "results": rows,
            "runs": [
                {**run.figures(), "upload": asdict(run.upload), "download": asdict(run.download),
                 "upload_server": asdict(run.upload_server),
                 "download_server": asdict(run.download_server)}
                for run in runs
            ],
        }  # fmt: skip
        args.json_out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        sys.exit("bench: interrupted; everything it started has been stopped.")
