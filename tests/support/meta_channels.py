"""Helpers for Messenger and Instagram channel tests: connecting through the API to the
fake Graph, signed webhook posts, and waiting (polling over HTTP) for what the worker did."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, cast

import httpx

from tests.support.fake_meta_graph import IG_ACCOUNT_ID, IG_PAGE_ID, IG_TOKEN, PAGE_ID, PAGE_TOKEN
from tests.support.webhook_calls import signed

CHANNELS = "/api/v1/channels"
CONVERSATIONS = "/api/v1/conversations"
WEBHOOKS = "/api/v1/webhooks"
APP_SECRET = "meta-app-secret-0123456789"


def messenger_body(graph_url: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Messenger support",
        "page_id": PAGE_ID,
        "page_access_token": PAGE_TOKEN,
        "app_secret": APP_SECRET,
        "graph_base_url": graph_url,
        **changes,
    }
    return {k: v for k, v in body.items() if v is not None}


def instagram_body(graph_url: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Instagram DMs",
        "instagram_account_id": IG_ACCOUNT_ID,
        "page_id": IG_PAGE_ID,
        "access_token": IG_TOKEN,
        "app_secret": APP_SECRET,
        "graph_base_url": graph_url,
        **changes,
    }
    return {k: v for k, v in body.items() if v is not None}


async def connect_meta(
    http: httpx.AsyncClient, headers: dict[str, str], kind: str, graph_url: str, **changes: Any
) -> dict[str, Any]:
    body = (messenger_body if kind == "messenger" else instagram_body)(graph_url, **changes)
    response = await http.post(f"{CHANNELS}/{kind}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return cast(dict[str, Any], response.json())


async def deliver(
    http: httpx.AsyncClient, channel: dict[str, Any], payload: Any, secret: str = APP_SECRET
) -> httpx.Response:
    body = json.dumps(payload).encode()
    path = f"{WEBHOOKS}/{channel['type']}/{channel['id']}"
    return await http.post(path, content=body, headers=signed(body, secret))


async def eventually(probe: Any, what: str, seconds: float = 90) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = await probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def history(
    http: httpx.AsyncClient, headers: dict[str, str], channel_id: str
) -> list[dict[str, Any]]:
    """Every message of the channel's conversations, oldest first."""
    listed = await http.get(CONVERSATIONS, params={"channel_id": channel_id}, headers=headers)
    assert listed.status_code == 200, listed.text
    found: list[dict[str, Any]] = []
    for conversation in listed.json()["items"]:
        page = await http.get(
            f"{CONVERSATIONS}/{conversation['id']}/messages",
            params={"limit": 100},
            headers=headers,
        )
        assert page.status_code == 200, page.text
        found.extend(page.json()["items"])
    return sorted(found, key=lambda m: (m["created_at"], m["id"]))


async def messages_once(
    http: httpx.AsyncClient, headers: dict[str, str], channel_id: str, count: int
) -> list[dict[str, Any]]:
    """The channel's messages once there are `count` of them."""

    async def probe() -> list[dict[str, Any]] | None:
        found = await history(http, headers, channel_id)
        return found if len(found) >= count else None

    return cast(list[dict[str, Any]], await eventually(probe, f"{count} messages"))
