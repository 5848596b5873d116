"""`/api/v1/webhooks/whatsapp[/{channel_id}]` against the real servers and a real worker:
verification, signatures, stored-then-processed deliveries, one effect per item under
concurrent duplicates, per-item isolation, the sweep, platform routing, tenant isolation."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Celery

from api.common.clock import utcnow
from api.domain.identity.auth import SecretBox
from api.domain.messaging.channels import Channel, ChannelRepository, ChannelType, SecretName
from api.domain.messaging.webhooks import ChannelLookup, WebhookEventStore
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.channels.whatsapp.webhook import parse_webhook
from api.infrastructure.persistence.messaging.webhooks import (
    WebhookEventDocument,
    WebhookItemDocument,
)
from api.usecases.messaging.ingest_webhook import IngestWebhook
from api.usecases.messaging.webhook_rules import SWEEP_WEBHOOKS_JOB, WebhookPolicy
from tests.e2e.webhooks.conftest import PLATFORM_SECRET, PLATFORM_VERIFY
from tests.fakes.jobs import FakeJobs
from tests.support.app import AppClient, assert_problem
from tests.support.channels import whatsapp_channel
from tests.support.fake_graph import PHONE_NUMBER_ID
from tests.support.onboarding import onboard
from tests.support.webhook_calls import post, processed, signed
from tests.support.webhook_worker import EFFECTS

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "whatsapp"
HOOKS = "/api/v1/webhooks/whatsapp"
SECRET = "acme-app-secret-0123456789"
OTHER_NUMBER = "200000000000002"


def fixture(name: str, phone_number_id: str = PHONE_NUMBER_ID) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    for entry in payload["entry"]:
        for change in entry["changes"]:
            metadata = change["value"].get("metadata")
            if metadata:
                metadata["phone_number_id"] = phone_number_id
    return payload


async def add_channel(
    app: AppClient, subdomain: str, *, number: str = PHONE_NUMBER_ID, secret: str | None = SECRET
) -> Channel:
    tenant = await onboard(app, subdomain)
    box = app.container.resolve(SecretBox)
    channel = whatsapp_channel(box, "http://graph.invalid", channel_id=None, phone_number_id=number)
    if secret is not None:
        channel = channel.model_copy(
            update={
                "secrets": channel.secrets.with_secret(SecretName.APP_SECRET, box.encrypt(secret))
            }
        )
    with tenant_context(TenantId(tenant.tenant.id or "")):
        repository: ChannelRepository = app.container.resolve(ChannelRepository)
        return await repository.add(channel)


async def items() -> dict[str, dict[str, Any]]:
    found = await WebhookItemDocument.find({}).to_list()
    return {d.key: d.model_dump() for d in found}


async def effects() -> list[dict[str, Any]]:
    database = WebhookItemDocument.get_pymongo_collection().database
    return [d async for d in database[EFFECTS].find({})]


async def test_verification(app: AppClient) -> None:
    channel = await add_channel(app, "acme")
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": channel.verify_token,
        "hub.challenge": "42x",
    }
    ok = await app.get(f"{HOOKS}/{channel.id}", params=query)
    assert ok.status_code == 200 and ok.text == "42x"
    assert ok.headers["content-type"].startswith("text/plain")
    wrong = await app.get(f"{HOOKS}/{channel.id}", params={**query, "hub.verify_token": "nope"})
    assert_problem(wrong, 403, "forbidden")
    unknown = await app.get(f"{HOOKS}/{'0' * 24}", params=query)
    assert_problem(unknown, 404, "not_found")
    platform = await app.get(HOOKS, params={**query, "hub.verify_token": PLATFORM_VERIFY})
    assert platform.status_code == 200 and platform.text == "42x"
    assert_problem(await app.get(HOOKS, params=query), 403, "forbidden")
    # A tenant header changes nothing: the tenant comes from the channel.
    headed = await app.get(f"{HOOKS}/{channel.id}", params=query, headers={"X-Tenant-ID": "x"})
    assert headed.status_code == 200


async def test_signatures_and_bad_bodies(app: AppClient) -> None:
    channel = await add_channel(app, "acme")
    path = f"{HOOKS}/{channel.id}"
    body = json.dumps(fixture("text")).encode()
    missing = await app.post(path, content=body, headers={"Content-Type": "application/json"})
    assert_problem(missing, 401, "unauthorized")
    wrong = await app.post(path, content=body, headers=signed(body, "not-the-secret"))
    assert_problem(wrong, 403, "forbidden")
    tampered = await app.post(path, content=body + b" ", headers=signed(body, SECRET))
    assert_problem(tampered, 403, "forbidden")
    unknown = await app.post(f"{HOOKS}/{'0' * 24}", content=body, headers=signed(body, SECRET))
    assert_problem(unknown, 404, "not_found")
    garbage = b"{not json"
    assert_problem(
        await app.post(path, content=garbage, headers=signed(garbage, SECRET)),
        400,
        "malformed_request",
    )
    big = json.dumps({"entry": [], "pad": "x" * 70_000}).encode()
    assert_problem(
        await app.post(path, content=big, headers=signed(big, SECRET)), 413, "payload_too_large"
    )
    assert await WebhookEventDocument.find({}).count() == 0  # nothing refused was stored
    ok = await app.post(path, content=body, headers=signed(body, SECRET))
    assert ok.status_code == 200 and ok.json() == {"status": "received"}
    stored = await WebhookEventDocument.find_one({})
    assert stored is not None and stored.body == body and stored.signature_verified
    assert stored.tenant_id == channel.tenant_id and stored.channel_id == channel.id
    await processed(1)
    assert (await items())[
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFFQjlCRUYwNjMwRTJGQjY0NwA="
        if False
        else next(iter(await items()))
    ]["state"] == "done"


async def test_channel_without_secret_uses_the_platform_secret(app: AppClient) -> None:
    channel = await add_channel(app, "acme", secret=None)
    body = json.dumps(fixture("status_read")).encode()
    path = f"{HOOKS}/{channel.id}"
    assert_problem(
        await app.post(path, content=body, headers=signed(body, SECRET)), 403, "forbidden"
    )
    assert (
        await app.post(path, content=body, headers=signed(body, PLATFORM_SECRET))
    ).status_code == 200
    await processed(1)


async def test_concurrent_duplicates_have_one_effect(
    app: AppClient, webhook_worker: Celery
) -> None:
    channel = await add_channel(app, "acme")
    payload = fixture("batch")  # messages (one unreadable) and statuses
    answers = await asyncio.gather(
        *(post(app, f"{HOOKS}/{channel.id}", payload, SECRET) for _ in range(10))
    )
    assert [a.status_code for a in answers] == [200] * 10
    await processed(10, webhook_worker)
    again = await post(app, f"{HOOKS}/{channel.id}", payload, SECRET)  # Meta retries later
    assert again.status_code == 200
    await processed(11, webhook_worker)
    recorded = await items()
    keys = {e.key for e in parse_webhook(payload)}
    assert set(recorded) == keys and len(keys) >= 5
    assert {i["attempts"] for i in recorded.values()} == {1}
    # The counting handler's items (the batch's template update has its real handler).
    handled = {
        k for k, i in recorded.items()
        if i["state"] == "done" and i["event_type"] != "template_updated"
    }  # fmt: skip
    assert {i["state"] for i in recorded.values()} <= {"done", "ignored"} and len(handled) >= 4
    counted = await effects()
    assert {e["key"] for e in counted} == handled and {e["count"] for e in counted} == {1}
    assert {e["tenant_id"] for e in counted} == {channel.tenant_id}


async def test_one_bad_item_blocks_nothing(app: AppClient) -> None:
    channel = await add_channel(app, "acme")
    payload = fixture("batch")
    messages = payload["entry"][0]["changes"][0]["value"]["messages"]
    messages[0]["text"]["body"] = "explode"  # the handler refuses it
    del messages[1]["id"]  # unreadable: becomes an unrecognized item
    payload["entry"].append({"id": "x", "changes": ["not a change"]})  # unreadable change
    assert (await post(app, f"{HOOKS}/{channel.id}", payload, SECRET)).status_code == 200
    await processed(1)
    recorded = await items()
    counting = [i for i in recorded.values() if i["event_type"] != "template_updated"]
    states = [i["state"] for i in counting]
    assert states.count("failed") == 1 and states.count("ignored") >= 2
    assert states.count("done") == 2  # both statuses (the batch's third message is unreadable)
    failed = next(i for i in recorded.values() if i["state"] == "failed")
    assert "ValueError" in failed["error"]
    assert len(await effects()) == 2


async def test_a_failed_items_error_hides_the_values_it_quotes(app: AppClient) -> None:
    channel = await add_channel(app, "acme")
    payload = fixture("text")
    said = "refused: call me on +14155550199"
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = said
    assert (await post(app, f"{HOOKS}/{channel.id}", payload, SECRET)).status_code == 200
    await processed(1)
    [item] = (await items()).values()
    assert item["state"] == "failed"
    assert item["error"].startswith("ValidationError: 1 validation error")
    assert "input_value=<hidden>, input_type=str" in item["error"]
    assert "+14155550199" not in item["error"]


async def test_a_transient_failure_is_retried_and_has_one_effect(app: AppClient) -> None:
    channel = await add_channel(app, "acme")
    payload = fixture("text")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = "flaky"
    assert (await post(app, f"{HOOKS}/{channel.id}", payload, SECRET)).status_code == 200
    await processed(1)  # after the job's retry (with backoff)
    [item] = (await items()).values()
    assert item["state"] == "done" and item["attempts"] == 2
    assert [e["count"] for e in await effects()] == [1]


async def test_platform_webhook_routes_by_number(app: AppClient) -> None:
    acme = await add_channel(app, "acme")
    globex = await add_channel(app, "globex", number=OTHER_NUMBER)
    payload = fixture("text")
    payload["entry"].append(fixture("status_delivered", OTHER_NUMBER)["entry"][0])
    payload["entry"].append(fixture("status_read", "999999999999999")["entry"][0])  # unknown
    assert_problem(await post(app, HOOKS, payload, SECRET), 403, "forbidden")
    assert (await post(app, HOOKS, payload, PLATFORM_SECRET)).status_code == 200
    await processed(1)
    stored = await WebhookEventDocument.find_one({})
    assert stored is not None and stored.channel_id is None and stored.tenant_id is None
    by_channel = {e["channel_id"]: e for e in await effects()}
    assert set(by_channel) == {acme.id, globex.id}
    assert by_channel[acme.id]["tenant_id"] == acme.tenant_id
    assert by_channel[globex.id]["tenant_id"] == globex.tenant_id
    assert len(await items()) == 2  # the unknown number's item was ignored, not recorded


async def test_a_stored_but_unqueued_delivery_is_swept(
    app: AppClient, webhook_worker: Celery
) -> None:
    channel = await add_channel(app, "acme")
    body = json.dumps(fixture("text")).encode()
    # As if the queue had been down when it came, a minute ago: stored, never queued.
    await WebhookEventDocument(
        channel_type="whatsapp", channel_id=channel.id, tenant_id=channel.tenant_id,
        received_at=utcnow() - timedelta(minutes=1), body=body, signature_verified=True,
        status="received",
    ).insert()  # fmt: skip
    webhook_worker.send_task(SWEEP_WEBHOOKS_JOB)
    await processed(1)
    assert [e["count"] for e in await effects()] == [1]


async def test_tenant_isolation(app: AppClient) -> None:
    acme = await add_channel(app, "acme")
    globex = await add_channel(app, "globex", number=OTHER_NUMBER, secret="globex-secret-0123456")
    # Acme's secret cannot sign for Globex's channel.
    assert_problem(
        await post(app, f"{HOOKS}/{globex.id}", fixture("text", OTHER_NUMBER), SECRET),
        403,
        "forbidden",
    )
    # Acme's channel fed an item naming Globex's number: it stays in Acme.
    payload = fixture("text", OTHER_NUMBER)
    headers = {"X-Tenant-ID": globex.tenant_id or ""}
    body = json.dumps(payload).encode()
    answer = await app.post(
        f"{HOOKS}/{acme.id}", content=body, headers={**signed(body, SECRET), **headers}
    )
    assert answer.status_code == 200
    await processed(1)
    counted = await effects()
    assert [(e["channel_id"], e["tenant_id"]) for e in counted] == [(acme.id, acme.tenant_id)]
    assert {i["channel_id"] for i in (await items()).values()} == {acme.id}


async def test_a_delivery_is_stored_queued_or_received_when_the_queue_is_down(
    app: AppClient,
) -> None:
    channel = await add_channel(app, "acme")
    assert channel.id is not None
    body = json.dumps(fixture("text")).encode()
    signature = signed(body, SECRET)["X-Hub-Signature-256"]
    container = app.container
    queued = await container.resolve(IngestWebhook).execute(
        ChannelType.WHATSAPP, channel.id, body, signature
    )
    queue_down = IngestWebhook(
        container.resolve(ChannelLookup), container.resolve(WebhookEventStore),
        FakeJobs(down=True), container.resolve(SecretBox), container.resolve(WebhookPolicy),
    )  # fmt: skip
    unqueued = await queue_down.execute(ChannelType.WHATSAPP, channel.id, body, signature)
    stored = {str(d.id): d.status for d in await WebhookEventDocument.find_all().to_list()}
    assert stored[unqueued.id or ""] == "received"  # the sweep's to queue
    # Queued (or already taken further, when a worker of the session is running).
    assert stored[queued.id or ""] != "received"
