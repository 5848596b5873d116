"""The platform's own Meta app for Messenger and Instagram (`META_APP_SECRET`,
`META_VERIFY_TOKEN`): `GET/POST /api/v1/webhooks/messenger` and `/instagram`, verified
and signed like WhatsApp's platform webhook (404 while not configured), each entry routed
by `entry[].id` to the connected channel of that Page or Instagram account, in that
channel's tenant, through the real worker; unknown accounts stored and ignored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from api.config import MetaSettings
from api.infrastructure.persistence.messaging.webhooks import WebhookEventDocument
from tests.support.app import AppClient, assert_problem, serve
from tests.support.fake_meta_graph import IG_ACCOUNT_ID, OTHER_PAGE_ID, PAGE_ID, FakeMetaGraph
from tests.support.meta_channels import (
    CONVERSATIONS,
    WEBHOOKS,
    connect_meta,
    eventually,
    history,
    messages_once,
)
from tests.support.meta_payloads import delivery, text
from tests.support.people import two_tenants
from tests.support.settings import make_settings
from tests.support.webhook_calls import signed

META_SECRET = "platform-meta-app-secret-0123"
META_VERIFY = "platform-meta-verify-token"
HUB = {"hub.mode": "subscribe", "hub.challenge": "8140712"}


@pytest.fixture
async def platform(mongo_url: str, redis_url: str, db_name: str) -> AsyncIterator[AppClient]:
    """The app with the platform's Meta app configured."""
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    meta = MetaSettings(_env_file=None, app_secret=META_SECRET, verify_token=META_VERIFY)
    async with serve(settings.model_copy(update={"meta": meta})) as http:
        yield http


async def post(http: AppClient, kind: str, payload: Any, secret: str = META_SECRET) -> Any:
    body = json.dumps(payload).encode()
    return await http.post(f"{WEBHOOKS}/{kind}", content=body, headers=signed(body, secret))


async def test_verification_signatures_and_not_configured(
    platform: AppClient, client: AppClient
) -> None:
    for kind in ("messenger", "instagram"):
        path = f"{WEBHOOKS}/{kind}"
        ok = await platform.get(path, params={**HUB, "hub.verify_token": META_VERIFY})
        assert ok.status_code == 200 and ok.text == "8140712"
        wrong = await platform.get(path, params={**HUB, "hub.verify_token": "not-it"})
        assert_problem(wrong, 403, "forbidden")
        body = json.dumps(delivery(PAGE_ID, text(PAGE_ID, "hi"))).encode()
        assert_problem(await platform.post(path, content=body), 401, "unauthorized")
        forged = await platform.post(path, content=body, headers=signed(body, "another"))
        assert_problem(forged, 403, "forbidden")
        whatsapps = await platform.post(  # WhatsApp's platform secret is not Meta's
            path, content=body, headers=signed(body, "platform-app-secret-0123")
        )
        assert_problem(whatsapps, 403, "forbidden")
        garbage = await platform.post(path, content=b"[1]", headers=signed(b"[1]", META_SECRET))
        assert_problem(garbage, 400, "malformed_request")
        good = await post(platform, kind, json.loads(body))
        assert good.status_code == 200 and good.json() == {"status": "received"}
        # Not configured (the default app): 404, whatever is sent.
        missing = await client.get(path, params={**HUB, "hub.verify_token": META_VERIFY})
        assert_problem(missing, 404, "not_found")
        assert_problem(await post(client, kind, json.loads(body)), 404, "not_found")
    # WhatsApp's platform webhook is not configured by META_*.
    whatsapp = await platform.get(
        f"{WEBHOOKS}/whatsapp", params={**HUB, "hub.verify_token": META_VERIFY}
    )
    assert_problem(whatsapp, 404, "not_found")


async def test_entries_reach_their_accounts_channel_in_its_tenant(
    worker: Path, platform: AppClient, meta_graph: FakeMetaGraph
) -> None:
    _, acme, _, beta = await two_tenants(platform)
    messenger = await connect_meta(platform, acme, "messenger", meta_graph.base_url)
    instagram = await connect_meta(platform, beta, "instagram", meta_graph.base_url)
    # One delivery, three entries: Acme's Page, a Page nobody connected, Beta's Instagram
    # account (which is no Messenger Page: not routed here).
    payload = delivery(PAGE_ID, text(PAGE_ID, "For Acme"))
    payload["entry"] += delivery(OTHER_PAGE_ID, text(OTHER_PAGE_ID, "For nobody"))["entry"]
    payload["entry"] += delivery(IG_ACCOUNT_ID, text(IG_ACCOUNT_ID, "Wrong webhook"))["entry"]
    assert (await post(platform, "messenger", payload)).status_code == 200
    ig = delivery(IG_ACCOUNT_ID, text(IG_ACCOUNT_ID, "For Beta"), object="instagram")
    assert (await post(platform, "instagram", ig)).status_code == 200
    [for_acme] = await messages_once(platform, acme, messenger["id"], 1)
    [for_beta] = await messages_once(platform, beta, instagram["id"], 1)
    assert for_acme["text"] == "For Acme" and for_beta["text"] == "For Beta"

    async def processed() -> list[Any] | None:
        found = await WebhookEventDocument.find({"channel_id": None}).to_list()
        done = [e for e in found if e.status.value == "processed"]
        return done if len(done) == 2 else None

    stored = await eventually(processed, "both deliveries stored and processed")
    assert {e.channel_type.value for e in stored} == {"messenger", "instagram"}
    assert all(e.tenant_id is None and e.signature_verified for e in stored)
    # Each tenant sees its own only.
    acme_seen = (await platform.get(CONVERSATIONS, headers=acme)).json()["items"]
    beta_seen = (await platform.get(CONVERSATIONS, headers=beta)).json()["items"]
    assert [c["channel_id"] for c in acme_seen] == [messenger["id"]]
    assert [c["channel_id"] for c in beta_seen] == [instagram["id"]]
    assert [m["text"] for m in await history(platform, beta, instagram["id"])] == ["For Beta"]
    other = await platform.get(f"/api/v1/messages/{for_acme['id']}", headers=beta)
    assert other.status_code == 404


async def test_a_channel_without_its_own_secret_is_signed_with_metas(
    platform: AppClient, meta_graph: FakeMetaGraph
) -> None:
    _, acme, _, _ = await two_tenants(platform)
    channel = await connect_meta(platform, acme, "instagram", meta_graph.base_url)
    cleared = await platform.patch(
        f"/api/v1/channels/{channel['id']}", json={"app_secret": None}, headers=acme
    )
    assert cleared.status_code == 200 and cleared.json()["has_app_secret"] is False, cleared.text
    body = json.dumps(delivery(IG_ACCOUNT_ID, text(IG_ACCOUNT_ID, "hi"))).encode()
    path = f"{WEBHOOKS}/instagram/{channel['id']}"
    assert (
        await platform.post(path, content=body, headers=signed(body, META_SECRET))
    ).status_code == 200
    wrong = await platform.post(path, content=body, headers=signed(body, "another"))
    assert_problem(wrong, 403, "forbidden")
