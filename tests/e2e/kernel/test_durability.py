"""What an acknowledged write means, proven: with the write concern Parley runs with in
production (majority, journaled) and the embedded server started as `scripts/serve` starts
it (sync on commit), every write the API acknowledged is still there after the database
server is killed (SIGKILL, mid-load) and restarted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import devservers
import pytest
from pymongo import AsyncMongoClient

from tests.support.app import AppClient, serve
from tests.support.onboarding import onboard, owner_headers
from tests.support.settings import make_settings

CONTACTS = "/api/v1/contacts"
WRITERS = 4
KILL_AFTER = 40  # acknowledged writes before the crash


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    return tmp_path / "db"


async def write_until_refused(
    http: AppClient, headers: dict[str, str], writer: int, acknowledged: list[str]
) -> None:
    """Create contacts one after another until the API refuses (the server is gone)."""
    for n in range(10_000):
        response = await http.post(
            CONTACTS,
            json={"phone": f"+4915{writer:02d}{n:07d}", "name": f"W{writer} #{n}"},
            headers=headers,
        )
        if response.status_code != 201:
            assert response.status_code == 503, response.text  # nothing else than "down"
            return
        acknowledged.append(response.json()["id"])


async def test_acknowledged_writes_survive_a_database_crash(storage: Path, redis_url: str) -> None:
    server = devservers.start_mongo(storage_path=str(storage), sync_on_commit=True)
    base = make_settings(server.url, redis_url, "durability", tenant_cache_ttl_seconds=0)
    production = base.mongo.model_copy(update={"write_journal": True})
    settings = base.model_copy(update={"mongo": production})
    assert (settings.mongo.w, settings.mongo.write_journal) == ("majority", True)
    acknowledged: list[str] = []
    try:
        async with serve(settings) as http:
            acme = await onboard(http, "acme")
            owner = await owner_headers(http, acme)
            writers = [
                asyncio.create_task(write_until_refused(http, owner, w, acknowledged))
                for w in range(WRITERS)
            ]
            deadline = asyncio.get_running_loop().time() + 120
            while len(acknowledged) < KILL_AFTER:
                assert asyncio.get_running_loop().time() < deadline, "writes did not go through"
                await asyncio.sleep(0.05)
            server.kill()  # a crash, with writes in flight
            await asyncio.wait_for(asyncio.gather(*writers), timeout=120)
    finally:
        server.kill()
    restarted = devservers.start_mongo(port=server.port, storage_path=str(storage))
    try:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(restarted.url)
        try:
            stored = {
                str(row["_id"])
                async for row in client["durability"]["contacts"].find({}, {"_id": 1})
            }
        finally:
            await client.close()
    finally:
        restarted.stop()
    assert len(acknowledged) >= KILL_AFTER
    lost = [i for i in acknowledged if i not in stored]
    assert lost == [], f"{len(lost)} of {len(acknowledged)} acknowledged writes were lost"
