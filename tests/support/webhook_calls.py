"""Helpers for webhook tests over HTTP: Meta's signature, signed posts, and waiting (by
polling, with deadlines) for what the worker does."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import Any

from celery import Celery

from api.infrastructure.persistence.messaging.webhooks import WebhookEventDocument
from api.usecases.messaging.webhook_rules import SWEEP_WEBHOOKS_JOB
from tests.support.app import AppClient


def signed(body: bytes, secret: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


async def post(app: AppClient, path: str, payload: Any, secret: str) -> Any:
    body = json.dumps(payload).encode()
    return await app.post(path, content=body, headers=signed(body, secret))


async def wait_for(probe: Any, what: str, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = await probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def processed(count: int, sweeper: Celery | None = None) -> None:
    """Wait for `count` processed deliveries; with `sweeper`, also run the sweep now and
    then (what beat does), for deliveries whose job gave up retrying held items."""
    last_sweep = time.monotonic()

    async def done() -> bool:
        nonlocal last_sweep
        n = await WebhookEventDocument.find({"status": "processed"}).count()
        if n < count and sweeper is not None and time.monotonic() - last_sweep > 3:
            sweeper.send_task(SWEEP_WEBHOOKS_JOB)
            last_sweep = time.monotonic()
        return n >= count

    await wait_for(done, f"{count} processed deliveries", seconds=120)
