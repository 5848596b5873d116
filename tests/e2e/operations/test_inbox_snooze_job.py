"""The snooze wake-up job through the real worker: sent as beat sends it, it opens again a
conversation whose snooze is due, in its tenant, and agents are told."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import httpx
from celery import Celery
from redis.asyncio import Redis

from api.common.clock import utcnow
from api.config import Settings
from api.domain.messaging.conversations import ConversationRepository
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.conversation_status import WAKE_JOB
from tests.support.app import AppClient
from tests.support.inbox import from_customer, receive, stored_channel
from tests.support.onboarding import onboard, owner_headers
from tests.support.realtime import published


async def test_the_worker_wakes_due_snoozes(
    app_client: tuple[httpx.AsyncClient, Settings],
    worker: Path,
    celery_client: Celery,
    redis_client: Redis,
) -> None:
    http, _ = app_client
    assert isinstance(http, AppClient)
    acme = await onboard(http, "acme")
    owner = await owner_headers(http, acme)
    tenant_id = acme.tenant.id or ""
    channel = await stored_channel(http.container, tenant_id, "http://graph.invalid")
    message = await receive(http.container, from_customer(1, 0), channel)
    conversations: ConversationRepository = http.container.resolve(ConversationRepository)
    with tenant_context(TenantId(tenant_id)):  # as if snoozed an hour ago until a minute ago
        due = await conversations.snooze(message.conversation_id, utcnow() - timedelta(minutes=1))
        later = await conversations.snooze(message.conversation_id, utcnow() + timedelta(hours=1))
    assert due is not None and later is not None
    url = f"/api/v1/conversations/{message.conversation_id}"

    not_yet = celery_client.send_task(WAKE_JOB)
    assert await asyncio.to_thread(not_yet.get, timeout=60) == 0  # not due: nothing woken
    assert (await http.get(url, headers=owner)).json()["status"] == "snoozed"

    with tenant_context(TenantId(tenant_id)):
        await conversations.snooze(message.conversation_id, utcnow() - timedelta(seconds=1))
    woken = celery_client.send_task(WAKE_JOB)
    assert await asyncio.to_thread(woken.get, timeout=60) == 1
    deadline = time.monotonic() + 60  # generous: CI is a busy 2-core machine
    while (body := (await http.get(url, headers=owner)).json())["status"] != "open":
        assert time.monotonic() < deadline, "the worker did not wake the conversation"
        await asyncio.sleep(0.2)
    assert body["snoozed_until"] is None
    events = [e for e in await published(redis_client, tenant_id)
              if e.type == "conversation.updated"]  # fmt: skip
    assert events[-1].data["status"] == "open"
