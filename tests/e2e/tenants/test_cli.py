"""The operator CLI against the real servers, and its effect on the HTTP API.

The commands run in this process against the test app's started container (`execute`,
what a CLI process runs once it has started); `test_the_cli_runs_as_a_process` runs
`python -m api.cli` itself (settings from the environment, start-up, exit status, stdout
and stderr), each such process being seconds of imports and start-up.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import punq
import pytest

from api.cli import error_text, execute, main, parse
from api.domain.errors import ParleyError
from api.infrastructure.persistence.base.mongo import MongoClient
from tests.support.app import AppClient, assert_problem
from tests.support.onboarding import login
from tests.support.settings import ROOT

OWNER = ("--owner-email", "Boss@Acme.example.com", "--owner-name", "Bea Boss")


async def cli_process(
    mongo_url: str, redis_url: str, db_name: str, *args: str, env: dict[str, str] | None = None
) -> tuple[int, Any, str]:
    """`python -m api.cli *args` against the test servers (with `env` added)."""
    env = {
        **os.environ,
        "MONGO_URI": mongo_url,
        "MONGO_DB_NAME": db_name,
        "REDIS_URL": redis_url,
        "ENVIRONMENT": "test",
        **(env or {}),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", *args,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, json.loads(out) if out else None, err.decode()


async def cli(container: punq.Container, *args: str) -> tuple[int, Any, str]:
    """The command in this process: (exit status, the printed document, stderr) as `main`
    gives them for a command that parses."""
    try:
        return 0, await execute(container, parse(args)), ""
    except ParleyError as exc:
        return 1, None, error_text(exc)


async def test_the_cli_runs_as_a_process(
    client: AppClient, mongo_url: str, redis_url: str, db_name: str
) -> None:
    code, created, err = await cli_process(
        mongo_url, redis_url, db_name, "tenants", "create", "--name", "Acme", "--subdomain", "Acme",
        *OWNER,
    )  # fmt: skip
    assert code == 0, err
    assert created["subdomain"] == "acme" and created["status"] == "active"
    headers = {"X-Tenant-ID": created["id"]}
    assert (await client.get("/api/v1/tenant", headers=headers)).json()["name"] == "Acme"
    code, out, err = await cli_process(
        mongo_url, redis_url, db_name, "tenants", "create", "--name", "B", "--subdomain", "acme",
        *OWNER,
    )  # fmt: skip
    assert code == 1 and out is None
    assert err.startswith("error: ") and "taken" in err


async def test_create_list_suspend_activate(client: AppClient) -> None:
    container = client.container
    code, created, _ = await cli(
        container, "tenants", "create", "--name", "Acme", "--subdomain", "Acme", *OWNER
    )
    assert code == 0
    assert created["subdomain"] == "acme" and created["status"] == "active"
    headers = {"X-Tenant-ID": created["id"]}
    assert (await client.get("/api/v1/tenant", headers=headers)).json()["name"] == "Acme"

    code, listing, _ = await cli(container, "tenants", "list")
    assert code == 0
    assert listing["total"] == 1 and listing["items"][0]["id"] == created["id"]

    code, suspended, _ = await cli(container, "tenants", "suspend", created["id"])
    assert code == 0 and suspended["status"] == "suspended"
    assert_problem(await client.get("/api/v1/tenant", headers=headers), 403, "tenant_suspended")

    code, _, _ = await cli(container, "tenants", "activate", created["id"])
    assert code == 0
    assert (await client.get("/api/v1/tenant", headers=headers)).status_code == 200


async def test_bad_input_is_a_clear_error(container: punq.Container) -> None:
    code, out, err = await cli(
        container, "tenants", "create", "--name", "X", "--subdomain", "www",
        *OWNER,
    )  # fmt: skip
    assert code == 1 and out is None
    assert "reserved" in err
    await cli(
        container, "tenants", "create", "--name", "A", "--subdomain", "a",
        *OWNER,
    )  # fmt: skip
    code, _, err = await cli(
        container, "tenants", "create", "--name", "B", "--subdomain", "a",
        *OWNER,
    )  # fmt: skip
    assert code == 1 and "taken" in err
    code, _, err = await cli(container, "tenants", "suspend", "f" * 24)
    assert code == 1 and "not found" in err.lower()


async def test_create_gives_the_tenant_what_http_gives_it(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    """One create path: system roles, an owner who can sign in, and a `tenant.created`
    audit entry, as `POST /api/v1/tenants` gives; the actor is the CLI (actor id None)."""
    code, created, err = await cli(
        client.container, "tenants", "create", "--name", "Acme Corp",
        "--subdomain", "acme", *OWNER, "--owner-password", "boss-password-1",
    )  # fmt: skip
    assert code == 0, err
    tenant_id = created["id"]
    assert created["owner"] == {
        "id": created["owner"]["id"],
        "email": "boss@acme.example.com",
        "full_name": "Bea Boss",
        "invitation": None,
    }
    db = mongo_client[db_name]
    roles = [r["name"] async for r in db["roles"].find({"tenant_id": tenant_id, "system": True})]
    assert sorted(roles) == ["admin", "agent", "member", "owner"]
    tokens = await login(client, "boss@acme.example.com", "boss-password-1", tenant_id)
    me = await client.get(
        "/api/v1/auth/me",
        headers={"Authorization": f"Bearer {tokens['access_token']}", "X-Tenant-ID": tenant_id},
    )
    assert me.json()["id"] == created["owner"]["id"]
    assert [r["name"] for r in me.json()["roles"]] == ["owner"]
    entry = await db["audit_logs"].find_one({"action": "tenant.created"})
    assert entry is not None
    assert (entry["tenant_id"], entry["resource_id"], entry["actor_id"]) == (
        tenant_id, tenant_id, None,
    )  # fmt: skip
    assert entry["changes"] == {
        "name": "Acme Corp", "subdomain": "acme", "owner_email": "boss@acme.example.com",
    }  # fmt: skip
    assert await db["outbound_emails"].count_documents({}) == 0


async def test_create_without_a_password_invites_the_owner(
    container: punq.Container, mongo_client: MongoClient, db_name: str
) -> None:
    code, created, err = await cli(
        container, "tenants", "create", "--name", "Acme Corp",
        "--subdomain", "acme", *OWNER,
    )  # fmt: skip
    assert code == 0, err
    assert created["owner"]["invitation"] == "queued"
    email = await mongo_client[db_name]["outbound_emails"].find_one({})
    assert email is not None
    assert (email["tenant_id"], email["to"], email["template"], email["status"]) == (
        created["id"], "boss@acme.example.com", "invitation", "queued",
    )  # fmt: skip
    # No platform admin invited them: the email names the platform.
    assert email["context"]["inviter_name"] == "Parley"
    assert email["context"]["user_name"] == "Bea Boss"


def test_create_needs_the_owner(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["tenants", "create", "--name", "A", "--subdomain", "a"])
    assert exited.value.code == 2
    assert "--owner-email" in capsys.readouterr().err
