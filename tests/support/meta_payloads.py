"""Messenger and Instagram webhook deliveries as Meta sends them (the Messenger Platform's
`entry[].messaging[]` shape), for tests."""

from __future__ import annotations

import itertools
import time
from typing import Any

CUSTOMER = "7349183356701122"  # a page-scoped (or Instagram-scoped) user id
_mids = itertools.count(1)


def new_mid(prefix: str = "m_IN") -> str:
    return f"{prefix}{next(_mids):06d}{int(time.time() * 1000) % 10**9}"


def now_ms() -> int:
    return int(time.time() * 1000)


def delivery(account_id: str, *items: dict[str, Any], object: str = "page") -> dict[str, Any]:
    return {
        "object": object,
        "entry": [{"id": account_id, "time": now_ms(), "messaging": list(items)}],
    }


def from_customer(account_id: str, customer: str = CUSTOMER, **event: Any) -> dict[str, Any]:
    return {
        "sender": {"id": customer},
        "recipient": {"id": account_id},
        "timestamp": now_ms(),
        **event,
    }


def text(
    account_id: str, body: str, *, mid: str | None = None, customer: str = CUSTOMER, **extra: Any
) -> dict[str, Any]:
    message = {"mid": mid or new_mid(), "text": body, **extra}
    return from_customer(account_id, customer, message=message)


def attachment(account_id: str, kind: str, url: str, *, mid: str | None = None) -> dict[str, Any]:
    return from_customer(
        account_id,
        message={"mid": mid or new_mid(), "attachments": [{"type": kind, "payload": {"url": url}}]},
    )


def story_reply(account_id: str, body: str, story_url: str, story_id: str) -> dict[str, Any]:
    return from_customer(
        account_id,
        message={
            "mid": new_mid(),
            "text": body,
            "reply_to": {"story": {"url": story_url, "id": story_id}},
        },
    )


def story_mention(account_id: str, story_url: str) -> dict[str, Any]:
    return from_customer(
        account_id,
        message={
            "mid": new_mid(),
            "attachments": [{"type": "story_mention", "payload": {"url": story_url}}],
        },
    )


def reaction(account_id: str, mid: str, emoji: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"mid": mid, "action": "react" if emoji else "unreact"}
    if emoji:
        body.update({"reaction": "love", "emoji": emoji})
    return from_customer(account_id, reaction=body)


def deleted(account_id: str, mid: str) -> dict[str, Any]:
    return from_customer(account_id, message={"mid": mid, "is_deleted": True})


def echo(
    account_id: str, body: str, *, mid: str, customer: str = CUSTOMER, metadata: str | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "mid": mid,
        "text": body,
        "is_echo": True,
        "app_id": 1517776481860111,
    }
    if metadata:
        message["metadata"] = metadata
    return {
        "sender": {"id": account_id},
        "recipient": {"id": customer},
        "timestamp": now_ms(),
        "message": message,
    }
