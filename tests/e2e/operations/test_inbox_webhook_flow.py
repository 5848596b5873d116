"""The inbox end to end: Meta's signed webhook -> stored raw -> the real worker's
dispatcher -> `HandleInboxEvents` -> a conversation and its message over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import httpx

from api.config import Settings
from api.domain.identity.auth import SecretBox
from api.domain.messaging.channels import ChannelRepository, SecretName
from api.domain.tenancy import TenantId, tenant_context
from tests.support.app import AppClient
from tests.support.channels import whatsapp_channel
from tests.support.inbox import FIXTURES
from tests.support.onboarding import onboard, owner_headers

SECRET = "inbox-app-secret-0123456789"


async def test_a_webhook_message_reaches_the_inbox(
    app_client: tuple[httpx.AsyncClient, Settings], worker: Path
) -> None:
    http, _ = app_client
    assert isinstance(http, AppClient)
    acme = await onboard(http, "acme")
    owner = await owner_headers(http, acme)
    box: SecretBox = http.container.resolve(SecretBox)
    channel = whatsapp_channel(box, "http://graph.invalid", channel_id=None)
    channel = channel.model_copy(
        update={"secrets": channel.secrets.with_secret(SecretName.APP_SECRET, box.encrypt(SECRET))}
    )
    with tenant_context(TenantId(acme.tenant.id or "")):
        repository: ChannelRepository = http.container.resolve(ChannelRepository)
        stored = await repository.add(channel)
    body = (FIXTURES / "text.json").read_bytes()
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}
    posted = await http.post(
        f"/api/v1/webhooks/whatsapp/{stored.id}", content=body, headers=headers
    )
    assert posted.status_code == 200, posted.text

    items: list[Any] = []
    deadline = time.monotonic() + 90
    while not items and time.monotonic() < deadline:
        items = (await http.get("/api/v1/conversations", headers=owner)).json()["items"]
        if not items:
            await asyncio.sleep(0.3)
    assert len(items) == 1, "the webhook's message did not reach the inbox in time"
    assert items[0]["contact"]["name"] == "Sheena Nelson"
    history = await http.get(f"/api/v1/conversations/{items[0]['id']}/messages", headers=owner)
    [message] = history.json()["items"]
    expected = json.loads(body)["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["external_id"] == expected["id"] and message["type"] == "text"
