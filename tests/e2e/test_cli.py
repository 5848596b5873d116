"""The operator CLI against the real servers, and its effect on the HTTP API."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import httpx

from tests.conftest import ROOT
from tests.e2e.conftest import assert_problem


async def cli(mongo_url: str, redis_url: str, db_name: str, *args: str) -> tuple[int, Any, str]:
    env = {
        **os.environ,
        "MONGO_URI": mongo_url,
        "MONGO_DB_NAME": db_name,
        "REDIS_URL": redis_url,
        "ENVIRONMENT": "test",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", *args,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, json.loads(out) if out else None, err.decode()


async def test_create_list_suspend_activate(
    client: httpx.AsyncClient, mongo_url: str, redis_url: str, db_name: str
) -> None:
    code, created, _ = await cli(
        mongo_url, redis_url, db_name, "tenants", "create", "--name", "Acme", "--subdomain", "Acme"
    )
    assert code == 0
    assert created["subdomain"] == "acme" and created["status"] == "active"
    headers = {"X-Tenant-ID": created["id"]}
    assert (await client.get("/api/v1/tenant", headers=headers)).json()["name"] == "Acme"

    code, listing, _ = await cli(mongo_url, redis_url, db_name, "tenants", "list")
    assert code == 0
    assert listing["total"] == 1 and listing["items"][0]["id"] == created["id"]

    code, suspended, _ = await cli(
        mongo_url, redis_url, db_name, "tenants", "suspend", created["id"]
    )
    assert code == 0 and suspended["status"] == "suspended"
    assert_problem(await client.get("/api/v1/tenant", headers=headers), 403, "tenant_suspended")

    code, _, _ = await cli(mongo_url, redis_url, db_name, "tenants", "activate", created["id"])
    assert code == 0
    assert (await client.get("/api/v1/tenant", headers=headers)).status_code == 200


async def test_bad_input_is_a_clear_error(mongo_url: str, redis_url: str, db_name: str) -> None:
    code, out, err = await cli(
        mongo_url, redis_url, db_name, "tenants", "create", "--name", "X", "--subdomain", "www"
    )
    assert code == 1 and out is None
    assert "reserved" in err
    await cli(mongo_url, redis_url, db_name, "tenants", "create", "--name", "A", "--subdomain", "a")
    code, _, err = await cli(
        mongo_url, redis_url, db_name, "tenants", "create", "--name", "B", "--subdomain", "a"
    )
    assert code == 1 and "taken" in err
    code, _, err = await cli(mongo_url, redis_url, db_name, "tenants", "suspend", "f" * 24)
    assert code == 1 and "not found" in err.lower()
