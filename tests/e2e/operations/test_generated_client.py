"""A client generated from the running app's `/openapi.json` works: openapi-python-client
(offline, as a subprocess) turns the document into a package, which signs in and calls
tenant endpoints over real HTTP, sending `X-Tenant-ID` and parsing the answers (errors
included) into its models."""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from api.config import Settings
from tests.support.app import serve
from tests.support.asgi_server import serve_asgi
from tests.support.onboarding import OWNER_PASSWORD, onboard

PACKAGE = "parley_client"
UNKNOWN_ID = "0123456789abcdef01234567"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
CONFIG = f"project_name_override: parley-client\npackage_name_override: {PACKAGE}\npost_hooks: []\n"


async def generate_client(spec: bytes, into: Path) -> Path:
    """Run openapi-python-client on `spec`; the directory holding the generated package."""
    (into / "openapi.json").write_bytes(spec)
    (into / "config.yaml").write_text(CONFIG)
    output = into / "client"
    process = await asyncio.create_subprocess_exec(
        str(GENERATOR),
        "generate",
        "--path",
        str(into / "openapi.json"),
        "--config",
        str(into / "config.yaml"),
        "--output-path",
        str(output),
        "--fail-on-warning",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, out.decode()
    assert "warning" not in out.decode().lower(), out.decode()  # every operation generated
    return output


@contextmanager
def importable(directory: Path) -> Iterator[Any]:
    """`import_module` for modules of the package generated in `directory`."""
    sys.path.insert(0, str(directory))
    try:

        def load(name: str) -> ModuleType:
            return importlib.import_module(f"{PACKAGE}.{name}")

        yield load
    finally:
        sys.path.remove(str(directory))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


async def test_a_generated_client_signs_in_and_calls_tenant_endpoints(
    settings: Settings, tmp_path: Path
) -> None:
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    async with serve(settings) as http, serve_asgi(http.app) as base_url:
        acme = await onboard(http, "acme")
        tenant_id, owner_email = acme.tenant.id or "", acme.owner.email
        async with httpx.AsyncClient(base_url=base_url) as plain:
            spec = await plain.get("/openapi.json")
        assert spec.status_code == 200
        generated = await generate_client(spec.content, tmp_path)

        with importable(generated) as load:
            client, models = load("client"), load("models")
            login, me = load("api.auth.auth_login"), load("api.auth.auth_me")
            users_list, users_get = load("api.users.users_list"), load("api.users.users_get")
            options: dict[str, Any] = {
                "base_url": base_url,
                "raise_on_unexpected_status": True,  # any undocumented status fails the test
                "httpx_args": {"event_hooks": {"request": [record]}},
            }

            tokens = await login.asyncio(
                client=client.Client(**options),
                body=models.LoginIn(email=owner_email, password=OWNER_PASSWORD),
                x_tenant_id=tenant_id,
            )
            assert isinstance(tokens, models.TokensOut), tokens
            authed = client.AuthenticatedClient(token=tokens.access_token, **options)

            listed = await users_list.asyncio_detailed(client=authed, x_tenant_id=tenant_id)
            assert listed.status_code == 200, listed.content
            page = listed.parsed
            assert isinstance(page, models.PageUserOut)
            assert (page.total, page.page, page.page_size) == (1, 1, 20)
            [owner] = page.items
            assert isinstance(owner, models.UserOut)
            assert (owner.email, owner.tenant_id, owner.is_active) == (owner_email, tenant_id, True)
            assert [role.name for role in owner.roles] == ["owner"]

            current = await me.asyncio(client=authed, x_tenant_id=tenant_id)
            assert isinstance(current, models.MeOut)
            assert current.id == owner.id and current.tenant.id == tenant_id
            assert "users:read" in current.permissions

            # Errors parse into the documented problem model.
            invalid = await users_list.asyncio(client=authed, x_tenant_id=tenant_id, page=0)
            assert isinstance(invalid, models.Problem)
            assert (invalid.status, invalid.code) == (422, "invalid_input")
            assert [error.loc for error in invalid.errors] == [["query", "page"]]
            missing = await users_get.asyncio(
                client=authed, user_id=UNKNOWN_ID, x_tenant_id=tenant_id
            )
            assert isinstance(missing, models.Problem) and missing.code == "not_found"
            unknown_tenant = await users_list.asyncio(client=authed, x_tenant_id=UNKNOWN_ID)
            assert isinstance(unknown_tenant, models.Problem)
            assert (unknown_tenant.status, unknown_tenant.code) == (404, "tenant_not_found")

    assert len(sent) == 6
    assert [r.headers.get("x-tenant-id") for r in sent] == [tenant_id] * 5 + [UNKNOWN_ID]
    assert all(r.headers["authorization"].startswith("Bearer ") for r in sent[1:])
