"""Two-factor sign-in in tests: currently valid TOTP codes, and the password step."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pyotp

AUTH = "/api/v1/auth"


def unused_code(secret: str, used: set[str]) -> str:
    """A currently accepted code (this, next or previous step) not in `used`; adds it.

    Codes are single use, and a 30-second boundary may pass during a test: choosing among
    the accepted ones at the time of use keeps the test deterministic."""
    now = time.time()
    code = next(c for c in (pyotp.TOTP(secret).at(now + k) for k in (0, 30, -30)) if c not in used)
    used.add(code)
    return code


def wrong_code(secret: str) -> str:
    valid = {pyotp.TOTP(secret).at(time.time() + 30 * k) for k in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


async def sign_in(
    http: httpx.AsyncClient, email: str, password: str, tenant_id: str | None
) -> dict[str, Any]:
    headers = {"X-Tenant-ID": tenant_id} if tenant_id else {}
    response = await http.post(
        f"{AUTH}/login", json={"email": email, "password": password}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def enable_mfa(
    client: httpx.AsyncClient, auth: dict[str, str], used: set[str]
) -> dict[str, Any]:
    """Set MFA up and turn it on; the setup answer (seed and recovery codes)."""
    setup = await client.post(f"{AUTH}/mfa/setup", headers=auth)
    assert setup.status_code == 200, setup.text
    body: dict[str, Any] = setup.json()
    code = unused_code(body["secret"], used)
    enabled = await client.post(f"{AUTH}/mfa/enable", json={"code": code}, headers=auth)
    assert enabled.status_code == 204, enabled.text
    return body
