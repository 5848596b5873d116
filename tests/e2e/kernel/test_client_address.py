"""Whose address a request has: the TCP peer's, unless the peer is a trusted proxy
(`FORWARDED_ALLOW_IPS`); then the right-most untrusted `X-Forwarded-For` entry. Checked
against the real per-IP sign-in limit and the audit log's `ip`."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from fastapi import FastAPI

from api.config import Settings
from api.infrastructure.persistence.base.mongo import MongoClient
from tests.support.app import AppClient, running_app
from tests.support.onboarding import OWNER_PASSWORD, onboard
from tests.support.settings import make_settings

LOGIN = "/api/v1/auth/login"
CLIENT = ("203.0.113.50", 40000)  # a client on the internet, talking to Parley directly
PROXY = ("10.0.0.5", 40000)  # the load balancer
LIMIT = 3
SUBDOMAINS = itertools.count()


def limited_settings(mongo_url: str, redis_url: str, db_name: str, **server: object) -> Settings:
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    settings.auth.login_rate_per_ip = LIMIT
    settings.auth.login_rate_per_account = 100
    for name, value in server.items():
        setattr(settings.server, name, value)
    return settings


async def sign_ins(app: FastAPI, peer: tuple[str, int], forwarded: Sequence[str]) -> list[int]:
    """One successful sign-in attempt per `X-Forwarded-For` value, from `peer`."""
    async with AppClient(app, peer=peer) as http:
        acme = await onboard(http, f"acme{next(SUBDOMAINS)}")
        body = {"email": acme.owner.email, "password": OWNER_PASSWORD}
        statuses = []
        for value in forwarded:
            headers = {"X-Tenant-ID": acme.tenant.id or "", "X-Forwarded-For": value}
            statuses.append((await http.post(LOGIN, json=body, headers=headers)).status_code)
        return statuses


async def login_ips(mongo_client: MongoClient, db_name: str) -> set[str]:
    entries = mongo_client[db_name]["audit_logs"].find({"action": "auth.login_succeeded"})
    return {entry["ip"] async for entry in entries}


async def test_without_trusted_proxies_rotating_the_header_does_not_escape_the_limit(
    mongo_url: str, redis_url: str, db_name: str, mongo_client: MongoClient
) -> None:
    settings = limited_settings(mongo_url, redis_url, db_name)
    async with running_app(settings) as app:
        rotating = [f"198.51.100.{n}" for n in range(LIMIT + 2)]
        assert await sign_ins(app, CLIENT, rotating) == [200] * LIMIT + [429, 429]
    assert await login_ips(mongo_client, db_name) == {CLIENT[0]}


async def test_a_peer_that_is_not_a_trusted_proxy_cannot_forward_an_address(
    mongo_url: str, redis_url: str, db_name: str, mongo_client: MongoClient
) -> None:
    settings = limited_settings(mongo_url, redis_url, db_name, forwarded_allow_ips=["10.0.0.0/8"])
    async with running_app(settings) as app:
        rotating = [f"198.51.100.{n}" for n in range(LIMIT + 1)]
        assert await sign_ins(app, CLIENT, rotating) == [200] * LIMIT + [429]
    assert await login_ips(mongo_client, db_name) == {CLIENT[0]}


async def test_behind_a_trusted_proxy_the_forwarded_client_is_limited_and_audited(
    mongo_url: str, redis_url: str, db_name: str, mongo_client: MongoClient
) -> None:
    settings = limited_settings(mongo_url, redis_url, db_name, forwarded_allow_ips=["10.0.0.0/8"])
    async with running_app(settings) as app:
        one, other = "198.51.100.1", "198.51.100.2"
        # Each client has its own budget, whatever the proxy's own address.
        assert await sign_ins(app, PROXY, [one] * (LIMIT + 1)) == [200] * LIMIT + [429]
        assert await sign_ins(app, PROXY, [other]) == [200]
        # What the client wrote before the proxy appended its address is not believed:
        # rotating the left-most entry does not escape the limit (right-most untrusted wins).
        spoofed = [f"192.0.2.{n}, {other}" for n in range(LIMIT)]
        assert await sign_ins(app, PROXY, spoofed) == [200] * (LIMIT - 1) + [429]
        # A chain of trusted proxies is skipped: the client is behind the inner one.
        assert await sign_ins(app, PROXY, ["198.51.100.3, 10.1.2.3"]) == [200]
    assert await login_ips(mongo_client, db_name) == {one, other, "198.51.100.3"}
