"""A hung S3 never blocks other tenants: tenant A's own S3 (moto behind a gate that stops
answering) takes many uploads at once and never answers them, while tenant B signs in,
uploads and downloads files and reads its profile (local storage) within seconds; A's
uploads end 503 after the read timeouts (each call's tries, one after another in A's
store's lane), and A's storage works again once its S3 does.

boto3 is synchronous: its calls run in threads. In the event loop's default pool (a few
threads: min(32, CPUs + 4), 6 on a 2-core machine, shared with password hashing, local
files and job queueing) A's hung calls held every thread until their timeouts, and B's
sign-in waited for them; each tenant's store has a small pool of its own now
(`STORAGE_MAX_IN_FLIGHT`). How long B's requests took is printed (`-s`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from api.config import Settings
from api.infrastructure.storage.s3 import CALL_ATTEMPTS
from tests.support.app import AppClient, assert_problem, serve
from tests.support.files import FILES, STORAGE, fetch, png_bytes, upload, uploaded
from tests.support.gate import Gate, gated, timed
from tests.support.onboarding import OWNER_PASSWORD, login, onboard, owner_headers
from tests.support.settings import make_settings
from tests.support.storage_servers import S3_ACCESS_KEY_ID, S3_REGION, S3_SECRET_ACCESS_KEY

pytestmark = pytest.mark.resilience

IN_FLIGHT = 2  # STORAGE_MAX_IN_FLIGHT
HUNG_UPLOADS = 12  # twice the default pool of a 2-core machine
READ_TIMEOUT = 5.0  # STORAGE_READ_TIMEOUT_SECONDS
B_DEADLINE = 5.0  # seconds for each of B's requests while A's store hangs (they take ms)
ROUNDS = 3  # B's sign-in, upload, download and listing, this many times


@pytest.fixture
async def gate(s3_server: str) -> AsyncIterator[Gate]:
    async with gated(urlsplit(s3_server).port or 0) as gate:
        yield gate


@pytest.fixture
def settings(mongo_url: str, redis_url: str, tmp_path: Path, gate: Gate) -> Settings:
    settings = make_settings(mongo_url, redis_url, f"s3hung_{uuid.uuid4().hex[:10]}")
    storage = settings.storage
    storage.local_storage_dir = str(tmp_path / "blobs")
    storage.storage_allowed_endpoints = [f"http://127.0.0.1:{gate.port}"]
    storage.storage_connect_timeout_seconds = 2.0
    storage.storage_read_timeout_seconds = READ_TIMEOUT
    storage.storage_max_in_flight = IN_FLIGHT
    return settings


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[AppClient]:
    async with serve(settings) as http:
        yield http


async def test_a_hung_s3_of_one_tenant_never_holds_up_another_tenants_requests(
    app: AppClient, gate: Gate, s3_bucket: str
) -> None:
    acme, beta = await onboard(app, "acme"), await onboard(app, "beta")
    a_headers, b_headers = await owner_headers(app, acme), await owner_headers(app, beta)
    own_s3 = {
        "provider": "s3", "bucket": s3_bucket, "region": S3_REGION,
        "endpoint_url": f"http://127.0.0.1:{gate.port}",
        "access_key_id": S3_ACCESS_KEY_ID, "secret_access_key": S3_SECRET_ACCESS_KEY,
    }  # fmt: skip
    chosen = await app.put(STORAGE, json=own_s3, headers=a_headers)
    assert chosen.status_code == 200, chosen.text
    before = await uploaded(app, a_headers, b"on A's S3 before it hung\n", "before.txt")
    b_file = await uploaded(app, b_headers, b"B's own file\n", "b.txt")

    gate.hang()
    hung_at = time.monotonic()
    hung = [
        asyncio.create_task(upload(app, a_headers, png_bytes(1000), f"a{n}.png"))
        for n in range(HUNG_UPLOADS)
    ]
    deadline = time.monotonic() + 30
    while gate.held < IN_FLIGHT:  # as many of A's calls as its store may have are at it
        assert time.monotonic() < deadline, f"A's uploads did not reach its store: {gate.held}"
        await asyncio.sleep(0.05)

    took: list[float] = []
    for n in range(ROUNDS):
        signed_in = await timed(
            B_DEADLINE, "B's sign-in", login(app, beta.owner.email, OWNER_PASSWORD, beta.tenant.id)
        )
        took.append(signed_in[0])
        sent = await timed(
            B_DEADLINE, "B's upload", upload(app, b_headers, f"B {n}\n".encode(), f"b{n}.txt")
        )
        assert sent[1].status_code == 201, sent[1].text
        took.append(sent[0])
        shown = await timed(
            B_DEADLINE, "B's file", app.get(f"{FILES}/{b_file['id']}", headers=b_headers)
        )
        got = await timed(B_DEADLINE, "B's download", fetch(app, shown[1].json()["url"]))
        assert got[1].content == b"B's own file\n"
        listed = await timed(
            B_DEADLINE, "B's profile", app.get("/api/v1/auth/me", headers=b_headers)
        )
        assert listed[1].status_code == 200
        took += [shown[0], got[0], listed[0]]
    assert not all(task.done() for task in hung)  # A's store still hangs meanwhile
    print(f"B's {len(took)} requests while A's S3 hung: at most {max(took):.2f} s "
          f"(mean {sum(took) / len(took):.2f} s), {gate.held} of A's calls held")  # fmt: skip

    # The first of A's uploads end 503 once their calls time out: each call is tried
    # CALL_ATTEMPTS times, and a failed upload's blob is then deleted, which times out too.
    # A's store runs IN_FLIGHT calls at a time, first come first served, so the first
    # uploads' deletes come after every upload's put: that many rounds of hung calls.
    rounds = -(-HUNG_UPLOADS // IN_FLIGHT) + 1
    deadline = hung_at + rounds * CALL_ATTEMPTS * READ_TIMEOUT + 30
    while sum(task.done() for task in hung) < IN_FLIGHT:
        assert time.monotonic() < deadline, "A's hung uploads did not time out"
        await asyncio.sleep(0.05)
    for task in (task for task in hung if task.done()):
        assert_problem(task.result(), 503, "service_unavailable")

    gate.release()  # A's S3 answers again: A's storage works, nothing restarted
    done, pending = await asyncio.wait(hung, timeout=rounds * CALL_ATTEMPTS * READ_TIMEOUT + 30)
    assert not pending, f"{len(pending)} of A's uploads still open after its S3 came back"
    assert {task.result().status_code for task in done} <= {201, 503}
    again = await uploaded(app, a_headers, b"on A's S3 after\n", "after.txt")
    for stored, content in ((before, b"on A's S3 before it hung\n"), (again, b"on A's S3 after\n")):
        url = (await app.get(f"{FILES}/{stored['id']}", headers=a_headers)).json()["url"]
        assert (await fetch(app, url)).content == content
