"""Operator commands, run against the configured servers (`.env` / environment).

    uv run python -m api.cli tenants create --name "Acme Corp" --subdomain acme \\
        --owner-email boss@acme.example.com --owner-name "Bea Boss" [--owner-password ...]
    uv run python -m api.cli tenants list [--page 1] [--page-size 100] [--query ac]
    uv run python -m api.cli tenants suspend <tenant id>
    uv run python -m api.cli tenants activate <tenant id>
    uv run python -m api.cli jobs failed [--limit 50]
    uv run python -m api.cli secrets reseal [--dry-run]
    uv run python -m api.cli admins list
    uv run python -m api.cli admins add --email ops@example.com --name "Olu Ops"
    uv run python -m api.cli admins reset-password <email>
    uv run python -m api.cli admins reset-mfa <email>
    uv run python -m api.cli admins deactivate <email>
    uv run python -m api.cli admins activate <email>

The tenant commands run the same use cases as the platform admins' HTTP routes, as the
operator (`OPERATOR`: platform authority, no account; audited with `actor_id` null).
`tenants create` gives the tenant its system roles and its owner, exactly as `POST
/api/v1/tenants` does: without `--owner-password` the owner is invited by email (a
single-use link; the output's `owner.invitation` says `queued` or `failed`).

`secrets reseal` re-encrypts every stored secret (channel tokens and app secrets, storage
credentials, MFA seeds) under the current `ENCRYPTION_KEY`, so that the keys moved to
`ENCRYPTION_PREVIOUS_KEYS` can be dropped afterwards; it reports counts and where (never
what) a secret no configured key opens is, and exits with status 1 when there is one.

`admins` manages the platform admins (`api/usecases/identity/platform_admins.py`): the only
way to add one besides the first (`ADMIN_EMAIL`), and the way back for one who forgot
their password or lost their authenticator and recovery codes. `add` and
`reset-password` read the new password from standard input (one line; asked twice
without echo at a terminal), never from the command line, where other users of the
machine could read it; the admin is told by email, and every command is audited.

Prints one JSON document per command on stdout; errors go to stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import punq

from api.common.logging import configure_logging
from api.config import ConfigurationError, load_settings
from api.domain.errors import FieldProblem, InvalidInput, ParleyError
from api.domain.tenants.tenant import Tenant, TenantStatus
from api.usecases.identity.platform_admins import PlatformAdmins, PlatformAdminView
from api.usecases.operations.failed_jobs import ListFailedJobs
from api.usecases.operations.reseal_secrets import ResealSecrets
from api.usecases.tenants.change_tenant_status import ChangeTenantStatus
from api.usecases.tenants.create_tenant import CreateTenant
from api.usecases.tenants.list_tenants import ListTenants
from api.usecases.tenants.rules import OPERATOR
from api.wiring import running


def _tenant_json(tenant: Tenant) -> dict[str, Any]:
    return tenant.model_dump(mode="json")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m api.cli", description="Parley operator tools")
    groups = parser.add_subparsers(dest="group", required=True)
    tenants = groups.add_parser("tenants", help="manage tenants").add_subparsers(
        dest="command", required=True
    )
    create = tenants.add_parser("create", help="create a tenant with its owner")
    create.add_argument("--name", required=True)
    create.add_argument("--subdomain", required=True)
    create.add_argument("--owner-email", required=True)
    create.add_argument("--owner-name", required=True, help="the owner's full name")
    create.add_argument(
        "--owner-password", help="lets the owner sign in at once (else they are invited by email)"
    )
    listing = tenants.add_parser("list", help="list tenants")
    listing.add_argument("--page", type=int, default=1)
    listing.add_argument("--page-size", type=int, default=100)
    listing.add_argument("--query", help="the start of the name or the subdomain")
    for verb in ("suspend", "activate"):
        tenants.add_parser(verb, help=f"{verb} a tenant").add_argument("tenant_id")
    jobs = groups.add_parser("jobs", help="background jobs").add_subparsers(
        dest="command", required=True
    )
    failed = jobs.add_parser("failed", help="jobs that failed for good, newest first")
    failed.add_argument("--limit", type=int, default=50)
    secrets = groups.add_parser("secrets", help="secrets stored encrypted").add_subparsers(
        dest="command", required=True
    )
    reseal = secrets.add_parser(
        "reseal", help="re-encrypt every stored secret under the current ENCRYPTION_KEY"
    )
    reseal.add_argument(
        "--dry-run", action="store_true", help="count what would be re-encrypted; change nothing"
    )
    admins = groups.add_parser("admins", help="platform admins").add_subparsers(
        dest="command", required=True
    )
    admins.add_parser("list", help="every platform admin")
    add = admins.add_parser("add", help="add a platform admin (password on standard input)")
    add.add_argument("--email", required=True)
    add.add_argument("--name", required=True, help="the admin's full name")
    for verb, says in (
        ("reset-password", "set a new password (on standard input); ends their sessions"),
        ("reset-mfa", "turn their two-factor sign-in off; ends their sessions"),
        ("deactivate", "refuse their sign-ins; ends their sessions"),
        ("activate", "let a deactivated admin sign in again"),
    ):
        admins.add_parser(verb, help=says).add_argument("email")
    return parser


NEEDS_PASSWORD = frozenset({"add", "reset-password"})


def read_password(stream: TextIO = sys.stdin) -> str:
    """The new password: one line of standard input, or asked twice at a terminal."""
    if not stream.isatty():
        return stream.readline().rstrip("\r\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise InvalidInput(
            "The passwords differ.", [FieldProblem(("password",), "typed twice differently")]
        )
    return first


async def _admins(container: punq.Container, args: argparse.Namespace) -> dict[str, Any]:
    admins = container.resolve(PlatformAdmins)
    if args.command == "list":
        return {"items": [PlatformAdminView.of(a).model_dump() for a in await admins.list()]}
    if args.command == "add":
        added = await admins.add(args.email, args.name, args.password)
        return PlatformAdminView.of(added).model_dump()
    if args.command in ("reset-password", "reset-mfa"):
        if args.command == "reset-password":
            admin, ended = await admins.reset_password(args.email, args.password)
        else:
            admin, ended = await admins.reset_mfa(args.email)
        return {**PlatformAdminView.of(admin).model_dump(), "sessions_ended": ended}
    admin = await admins.set_active(args.email, args.command == "activate")
    return PlatformAdminView.of(admin).model_dump()


async def _tenants(container: punq.Container, args: argparse.Namespace) -> dict[str, Any]:
    if args.command == "create":
        created = await container.resolve(CreateTenant).execute(
            OPERATOR,
            name=args.name,
            subdomain=args.subdomain,
            owner_email=args.owner_email,
            owner_full_name=args.owner_name,
            owner_password=args.owner_password,
        )
        owner = created.owner.model_dump(mode="json", include={"id", "email", "full_name"})
        invitation = created.invitation.value if created.invitation else None
        return {**_tenant_json(created.tenant), "owner": {**owner, "invitation": invitation}}
    if args.command == "list":
        page = await container.resolve(ListTenants).execute(
            OPERATOR, query=args.query, page=args.page, page_size=args.page_size
        )
        return {"items": [_tenant_json(t) for t in page.items], "total": page.total}
    status = TenantStatus.SUSPENDED if args.command == "suspend" else TenantStatus.ACTIVE
    tenant = await container.resolve(ChangeTenantStatus).execute(OPERATOR, args.tenant_id, status)
    return _tenant_json(tenant)


async def execute(container: punq.Container, args: argparse.Namespace) -> dict[str, Any]:
    """One parsed command against a started container: the JSON document it prints.
    Raises `ParleyError` for what `main` reports as an error."""
    if args.group == "jobs":
        failures = await container.resolve(ListFailedJobs).execute(limit=args.limit)
        return {"items": [f.model_dump(mode="json") for f in failures]}
    if args.group == "secrets":
        report = await container.resolve(ResealSecrets).execute(dry_run=args.dry_run)
        return report.model_dump(mode="json")
    if args.group == "admins":
        return await _admins(container, args)
    return await _tenants(container, args)


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line's command (argparse exits with status 2 on a bad one)."""
    return _parser().parse_args(argv)


def error_text(exc: ParleyError | ConfigurationError) -> str:
    """What `main` writes on stderr for an error."""
    lines = [f"error: {exc}"]
    lines += [f"  {'.'.join(map(str, p.loc))}: {p.msg}" for p in getattr(exc, "problems", [])]
    return "".join(f"{line}\n" for line in lines)


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    settings = load_settings()
    async with running(settings) as container:
        return await execute(container, args)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    configure_logging(level="WARNING")
    try:
        if args.group == "admins" and args.command in NEEDS_PASSWORD:
            args.password = read_password()
        result = asyncio.run(_run(args))
    except (ParleyError, ConfigurationError) as exc:
        sys.stderr.write(error_text(exc))
        return 1
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    if args.group == "secrets" and result["unreadable"]:
        sys.stderr.write(
            f"error: {result['unreadable']} stored secret(s) open under no configured key "
            "(listed in unreadable_at): keep listing the keys they were sealed with\n"
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
