"""Parley's API as a process of its own (uvicorn, `api.main:create_app`), as a replica
runs in production: for tests about what several API processes share (Mongo, Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from api.interfaces.http.uvicorn_protocol import UVICORN_HTTP
from tests.support.settings import ADMIN_EMAIL, ADMIN_PASSWORD, ROOT, redis_db
from tests.support.workers import stop

START_SECONDS = 90.0


def api_env(mongo_url: str, redis_url: str, db_name: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
        "MONGO_URI": mongo_url,
        "MONGO_DB_NAME": db_name,
        "MONGO_WRITE_JOURNAL": "false",
        "MONGO_CREATE_INDEXES": "false",  # the session made them
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_db(redis_url, 1),
        "CELERY_RESULT_BACKEND": redis_db(redis_url, 2),
        "ADMIN_EMAIL": ADMIN_EMAIL,
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "TENANT_CACHE_TTL_SECONDS": "0",
        **extra,
    }


def _start(
    command: list[str], env: dict[str, str], sock: socket.socket, log: Path
) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(  # noqa: S603 - our own command line
            command,
            cwd=ROOT,
            env=env,
            pass_fds=[sock.fileno()],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        sock.close()  # the process has its own copy


async def _tail(log: Path) -> str:
    return (await asyncio.to_thread(log.read_text))[-2000:]


def _launch(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start the API on a free port (the socket is made here and handed over, so no other
    process can take the port in between)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    command = [
        sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory",
        "--fd", str(sock.fileno()), "--log-level", "warning", "--no-access-log",
        "--http", UVICORN_HTTP,
    ]  # fmt: skip
    return _start(command, env, sock, log), port


async def _healthy(process: subprocess.Popen[bytes], http: httpx.AsyncClient, log: Path) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the API process exited: {await _tail(log)}")
        with contextlib.suppress(httpx.TransportError):
            if (await http.get("/health")).status_code == 200:
                return
        if loop.time() > deadline:
            raise RuntimeError(f"the API process did not start: {await _tail(log)}")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def api_processes(
    env: dict[str, str], logs: list[Path]
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Start one API process per log, each on a free port, all at once (each start is
    seconds of imports); yields a client per process once every `/health` answers, and
    stops the processes (their whole groups) afterwards."""
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for log in logs:
            process, port = await asyncio.to_thread(_launch, env, log)
            stack.push_async_callback(asyncio.to_thread, stop, process)
            http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30)
            await stack.enter_async_context(http)
            clients.append((process, http, log))
        await asyncio.gather(*(_healthy(process, http, log) for process, http, log in clients))
        yield [http for _, http, _ in clients]
