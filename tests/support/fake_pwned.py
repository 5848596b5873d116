"""A fake of Have I Been Pwned's Pwned Passwords range API (`GET /range/{prefix}`), with
the real wire format: `SUFFIX:COUNT` lines (35 upper-case hex characters, a count), CRLF
separated, and with `Add-Padding: true` decoy lines of count 0."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.support.asgi_server import serve_asgi

PADDING_LINES = 300


def sha1_upper(password: str) -> str:
    return hashlib.sha1(password.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


@dataclass
class FakePwned:
    """The breached passwords (`breached`, by count), what was asked (`requests`: path and
    the `Add-Padding` header), and a status to answer instead (`fail_with`)."""

    breached: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    fail_with: int | None = None
    base_url: str = ""


def build_app(fake: FakePwned) -> Starlette:
    async def range_(request: Request) -> Response:
        prefix = request.path_params["prefix"]
        fake.requests.append((request.url.path, request.headers.get("add-padding")))
        if fake.fail_with is not None:
            return PlainTextResponse("unavailable", status_code=fake.fail_with)
        if len(prefix) != 5 or any(c not in "0123456789ABCDEFabcdef" for c in prefix):
            return PlainTextResponse("The hash prefix was not in a valid format", status_code=400)
        lines = [
            f"{digest[5:]}:{count}"
            for password, count in fake.breached.items()
            if (digest := sha1_upper(password)).startswith(prefix.upper())
        ]
        if request.headers.get("add-padding") == "true":
            lines += [f"{secrets.token_hex(18)[:35].upper()}:0" for _ in range(PADDING_LINES)]
        return PlainTextResponse("\r\n".join(sorted(lines)))

    return Starlette(routes=[Route("/range/{prefix}", range_)])


@asynccontextmanager
async def serve_fake_pwned(fake: FakePwned) -> AsyncIterator[str]:
    """Serve `fake` on a free local port; yields its base URL (also `fake.base_url`)."""
    async with serve_asgi(build_app(fake), graceful_seconds=1) as url:
        fake.base_url = url
        yield url
