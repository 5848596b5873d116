"""The operator's platform admin commands (`scripts/cli admins ...`) against the real
servers, and their effect on the HTTP API: adding an admin who then signs in, the way
back from a forgotten password or a lost authenticator (sessions ended, the admin told by
email), deactivation (never of the last active admin), a tenant user with the same
address untouched, clear errors, audited without a password, and the password read from
standard input by the real process."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from typing import Any

import punq
import pytest

from api.cli import error_text, execute, parse, read_password
from api.domain.errors import Conflict, InvalidInput, ParleyError
from api.domain.identity.auth import OneTimeTokens, PasswordHasher
from api.domain.identity.users import PlatformUserRepository, User
from api.infrastructure.persistence.base.mongo import MongoClient
from api.usecases.identity.account_security import AccountSecurity
from api.usecases.identity.platform_admins import PlatformAdmins
from api.usecases.identity.security_notices import SecurityNotices
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.passwords import PasswordRules
from tests.support.app import AppClient, assert_problem
from tests.support.mfa import enable_mfa, unused_code
from tests.support.onboarding import OWNER_PASSWORD, admin_headers, login, onboard
from tests.support.settings import ADMIN_EMAIL, ADMIN_PASSWORD, ROOT

AUTH = "/api/v1/auth"
OPS = "ops@example.com"
OPS_PASSWORD = "ops-first-password-58"
RESET_PASSWORD = "operator-set-password-93"


async def admins(
    container: punq.Container, *args: str, password: str | None = None
) -> tuple[int, Any, str]:
    """`admins *args` in this process, the password as `main` would have read it:
    (exit status, the printed document, stderr)."""
    parsed = parse(["admins", *args])
    parsed.password = password
    try:
        return 0, await execute(container, parsed), ""
    except ParleyError as exc:
        return 1, None, error_text(exc)


async def login_status(client: AppClient, email: str, password: str) -> int:
    answer = await client.post(f"{AUTH}/login", json={"email": email, "password": password})
    return answer.status_code


async def platform_notices(mongo: MongoClient, db_name: str) -> list[str]:
    cursor = mongo[db_name]["outbound_emails"].find({"tenant_id": "platform"}).sort("_id", 1)
    return [
        f"{raw['to']}: {raw['context']['change']} {raw['context']['detail']}".rstrip()
        async for raw in cursor
    ]


async def platform_audit(mongo: MongoClient, db_name: str) -> list[dict[str, Any]]:
    query = {"tenant_id": None, "action": {"$regex": "^platform_admin\\."}}
    return [raw async for raw in mongo[db_name]["audit_logs"].find(query).sort("created_at", 1)]


async def test_an_operator_adds_a_platform_admin_who_signs_in(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    container = client.container
    code, added, err = await admins(
        container, "add", "--email", " Ops@Example.com ", "--name", "Olu Ops",
        password=OPS_PASSWORD,
    )  # fmt: skip
    assert code == 0, err
    assert set(added) == {"id", "email", "full_name", "is_active", "mfa_enabled", "created_at"}
    assert (added["email"], added["full_name"], added["is_active"]) == (OPS, "Olu Ops", True)
    tokens = await login(client, OPS, OPS_PASSWORD)
    me = await client.get(
        f"{AUTH}/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["email"] == OPS
    # A platform admin: the platform's routes answer them.
    tenants = await client.get(
        "/api/v1/tenants", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert tenants.status_code == 200, tenants.text

    code, listing, _ = await admins(container, "list")
    assert code == 0
    assert [a["email"] for a in listing["items"]] == [ADMIN_EMAIL, OPS]

    [entry] = await platform_audit(mongo_client, db_name)
    assert (entry["action"], entry["actor_id"], entry["resource_id"]) == (
        "platform_admin.created", None, added["id"]
    )  # fmt: skip
    assert OPS_PASSWORD not in str(entry)


async def test_bad_input_is_a_clear_error_and_changes_nothing(container: punq.Container) -> None:
    for args, password, says in (
        (("add", "--email", ADMIN_EMAIL, "--name", "Twin"), OPS_PASSWORD, "already has"),
        (("add", "--email", "not-an-address", "--name", "X"), OPS_PASSWORD, "email: not a valid"),
        (("add", "--email", OPS, "--name", "X"), "short", "password: must be at least"),
        (("add", "--email", OPS, "--name", "X"), OPS, "password"),  # the email itself
        (("reset-password", "nobody@example.com"), RESET_PASSWORD, "No platform admin"),
        (("reset-password", ADMIN_EMAIL), "short", "password: must be at least"),
        (("reset-mfa", ADMIN_EMAIL), None, "not on"),
        (("deactivate", ADMIN_EMAIL), None, "last active platform admin"),
        (("activate", "nobody@example.com"), None, "No platform admin"),
    ):
        code, out, err = await admins(container, *args, password=password)
        assert code == 1 and out is None, (args, out)
        assert err.startswith("error: ") and says in err, (args, err)
    code, listing, _ = await admins(container, "list")
    assert [(a["email"], a["is_active"]) for a in listing["items"]] == [(ADMIN_EMAIL, True)]


def test_the_commands_need_their_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["admins", "add", "--email", OPS], ["admins", "reset-password"], ["admins"]):
        with pytest.raises(SystemExit) as exited:
            parse(argv)
        assert exited.value.code == 2
    assert "required" in capsys.readouterr().err


async def test_a_password_reset_ends_the_sessions_and_tells_the_admin(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme", email=ADMIN_EMAIL)  # the same address in a tenant
    auth = await admin_headers(client)
    code, reset, err = await admins(
        client.container, "reset-password", ADMIN_EMAIL.upper(), password=RESET_PASSWORD
    )
    assert code == 0, err
    assert reset["email"] == ADMIN_EMAIL and reset["sessions_ended"] >= 1
    assert_problem(await client.get(f"{AUTH}/me", headers=auth), 401, "unauthorized")
    assert await login_status(client, ADMIN_EMAIL, ADMIN_PASSWORD) == 401
    assert await login_status(client, ADMIN_EMAIL, RESET_PASSWORD) == 200
    # The tenant user of the same address keeps their password.
    await login(client, ADMIN_EMAIL, OWNER_PASSWORD, acme.tenant.id)
    assert await platform_notices(mongo_client, db_name) == [
        f"{ADMIN_EMAIL}: The platform's operator set a new password for you."
    ]
    [entry] = await platform_audit(mongo_client, db_name)
    assert entry["action"] == "platform_admin.password_reset" and entry["actor_id"] is None
    assert RESET_PASSWORD not in str(entry)


async def test_an_mfa_reset_lets_the_admin_in_with_the_password_alone(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    auth = await admin_headers(client)
    used: set[str] = set()
    setup = await enable_mfa(client, auth, used)
    challenge = await client.post(
        f"{AUTH}/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert challenge.json()["mfa_required"] is True

    code, reset, err = await admins(client.container, "reset-mfa", ADMIN_EMAIL)
    assert code == 0, err
    assert reset["mfa_enabled"] is False and reset["sessions_ended"] >= 1
    assert_problem(await client.get(f"{AUTH}/me", headers=auth), 401, "unauthorized")
    tokens = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert "access_token" in tokens and not tokens.get("mfa_required")
    # The old seed and codes are void: the challenge they would answer is gone.
    code_then = unused_code(setup["secret"], used)
    stale = await client.post(
        f"{AUTH}/mfa/verify", json={"mfa_token": challenge.json()["mfa_token"], "code": code_then}
    )
    assert_problem(stale, 401, "unauthorized")
    notices = await platform_notices(mongo_client, db_name)
    assert notices[-1] == (
        f"{ADMIN_EMAIL}: An administrator turned your two-factor sign-in off. "
        "The platform's operator did it."
    )
    code, _, err = await admins(client.container, "reset-mfa", ADMIN_EMAIL)
    assert code == 1 and "not on" in err


async def test_deactivation_ends_sessions_and_keeps_an_active_admin(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    container = client.container
    await admins(container, "add", "--email", OPS, "--name", "Olu Ops", password=OPS_PASSWORD)
    auth = await admin_headers(client)

    code, gone, err = await admins(container, "deactivate", ADMIN_EMAIL)
    assert code == 0, err and gone["is_active"] is False
    assert_problem(await client.get(f"{AUTH}/me", headers=auth), 401, "unauthorized")
    assert await login_status(client, ADMIN_EMAIL, ADMIN_PASSWORD) == 401
    assert await login_status(client, OPS, OPS_PASSWORD) == 200
    # Ops is now the last active one.
    code, _, err = await admins(container, "deactivate", OPS)
    assert code == 1 and "last active platform admin" in err
    code, back, err = await admins(container, "activate", ADMIN_EMAIL)
    assert code == 0 and back["is_active"] is True, err
    assert await login_status(client, ADMIN_EMAIL, ADMIN_PASSWORD) == 200
    actions = [e["action"] for e in await platform_audit(mongo_client, db_name)]
    assert actions == [
        "platform_admin.created", "platform_admin.deactivated", "platform_admin.activated"
    ]  # fmt: skip


class BothChecked:
    """The platform admins, where two deactivations both pass their first check (each
    sees the other admin active) before either writes: the race the second check is for."""

    def __init__(self, real: PlatformUserRepository) -> None:
        self._real = real
        self._barrier = asyncio.Barrier(2)
        self._waiting = 2

    async def all(self) -> list[User]:
        found = await self._real.all()
        if self._waiting:
            self._waiting -= 1
            await asyncio.wait_for(self._barrier.wait(), timeout=30)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


async def test_two_deactivations_at_once_never_leave_no_active_admin(
    container: punq.Container,
) -> None:
    await admins(container, "add", "--email", OPS, "--name", "Olu Ops", password=OPS_PASSWORD)
    racing = PlatformAdmins(
        BothChecked(container.resolve(PlatformUserRepository)),
        container.resolve(PasswordHasher),
        container.resolve(PasswordRules),
        container.resolve(OneTimeTokens),
        container.resolve(AccountSecurity),
        container.resolve(Auditor),
        container.resolve(SecurityNotices),
    )
    raced = await asyncio.gather(
        racing.set_active(ADMIN_EMAIL, False),
        racing.set_active(OPS, False),
        return_exceptions=True,
    )
    # Both passed the first check; the second lets one through at most (the one that
    # checked while the other was still active), or neither (both wrote first).
    won = [isinstance(outcome, User) for outcome in raced]
    assert all(won[i] or isinstance(raced[i], Conflict) for i in (0, 1)), raced
    assert sum(won) <= 1, raced
    _, listing, _ = await admins(container, "list")
    assert [a["is_active"] for a in listing["items"]] == [not w for w in won]


def test_the_password_is_read_from_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    assert read_password(io.StringIO("a password with spaces \r\nnext line\n")) == (
        "a password with spaces "
    )

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    typed = iter(["typed-once-password", "typed-twice-password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(typed))
    with pytest.raises(InvalidInput):
        read_password(Terminal())
    monkeypatch.setattr("getpass.getpass", lambda prompt: "same-password-both")
    assert read_password(Terminal()) == "same-password-both"


async def test_the_command_runs_as_a_process_with_the_password_on_stdin(
    client: AppClient, mongo_url: str, redis_url: str, db_name: str
) -> None:
    env = {
        **os.environ, "MONGO_URI": mongo_url, "MONGO_DB_NAME": db_name,
        "REDIS_URL": redis_url, "ENVIRONMENT": "test",
    }  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", "admins", "reset-password", ADMIN_EMAIL,
        cwd=ROOT, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(
        process.communicate(f"{RESET_PASSWORD}\n".encode()), timeout=60
    )
    assert process.returncode == 0, err.decode()
    assert json.loads(out)["email"] == ADMIN_EMAIL
    assert RESET_PASSWORD.encode() not in out + err
    assert await login_status(client, ADMIN_EMAIL, RESET_PASSWORD) == 200
