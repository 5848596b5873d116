"""Campaigns with a plain message (Telegram has no templates), end to end against the real
servers, the session's worker and the fake Bot API: every contact reachable on the bot gets
exactly one message per run (placeholders filled from the contact, a 429's `retry_after`
waited out, a stored file uploaded with its caption), the contacts not on the bot, opted
out or another tenant's are not sent to; the content rules (a plain message to WhatsApp,
a template to Telegram, Messenger, both or neither, an empty text, an unknown file are
422), permissions (401/403) and tenant isolation (404; another tenant's channel, file or
contacts cannot be used)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from api.common.clock import utcnow
from api.domain.identity.auth import SecretBox
from api.domain.messaging.campaigns import (
    Audience,
    Campaign,
    CampaignRecipient,
    CampaignRecipientRepository,
    CampaignRepository,
    CampaignRun,
    CampaignRunRepository,
    CampaignStatus,
    PlainMessage,
    RecipientAddress,
    RunStatus,
)
from api.domain.messaging.channels import (
    Channel,
    ChannelRepository,
    ChannelType,
    MessengerSettings,
)
from api.domain.messaging.contacts import (
    ChannelUserIdentity,
    ContactIdentity,
    ContactIdentityRepository,
    ContactRepository,
)
from api.domain.messaging.outbound import SendRateLimiter, chat_bucket
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.campaign_batches import SliceOutcome
from api.usecases.messaging.send_campaign_run import SendCampaignRun
from tests.support.app import AppClient, assert_problem
from tests.support.campaigns import CAMPAIGNS, CONTACTS, add_contact, stock_tenant
from tests.support.fake_telegram import BOT_TOKEN, FakeTelegram, Seen, serve_fake_telegram
from tests.support.files import png_bytes, uploaded
from tests.support.meta_channels import eventually
from tests.support.onboarding import onboard, owner_headers
from tests.support.people import signed_in

CHANNELS = "/api/v1/channels"
HOOKS = "/api/v1/webhooks/telegram"
USERS = {5001: "Ann", 5002: "Bob", 5003: "Cid"}
TEXT = "Hi {{1}}, use {{2}} this week."
BUTTON = {"text": "Shop now", "url": "https://shop.example.com/spring"}


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    async with serve_fake_telegram(fake):
        yield fake


async def connect(client: AppClient, headers: dict[str, str], telegram: FakeTelegram) -> str:
    response = await client.post(
        f"{CHANNELS}/telegram",
        json={"name": "Acme bot", "bot_token": BOT_TOKEN, "api_base_url": telegram.base_url},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def write_in(client: AppClient, channel_id: str, telegram: FakeTelegram) -> None:
    """Each of `USERS` writes to the bot once (the worker makes them contacts)."""
    secret = str(telegram.webhooks[BOT_TOKEN]["secret_token"])
    for index, (user_id, name) in enumerate(USERS.items(), start=1):
        user = {"id": user_id, "is_bot": False, "first_name": name}
        update = {
            "update_id": index,
            "message": {"message_id": index, "date": int(time.time()), "text": "hello",
                        "chat": {"id": user_id, "type": "private"}, "from": user},
        }  # fmt: skip
        response = await client.post(
            f"{HOOKS}/{channel_id}", content=json.dumps(update).encode(),
            headers={"Content-Type": "application/json",
                     "X-Telegram-Bot-Api-Secret-Token": secret},
        )  # fmt: skip
        assert response.status_code == 200, response.text


async def telegram_contacts(client: AppClient, owner: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The contacts on Telegram by name, once all of `USERS` are there."""

    async def check() -> dict[str, dict[str, Any]] | None:
        page = await client.get(f"{CONTACTS}?channel_type=telegram&limit=100", headers=owner)
        assert page.status_code == 200, page.text
        found = {c["name"]: c for c in page.json()["items"]}
        return found if set(found) >= set(USERS.values()) else None

    return dict(await eventually(check, "the Telegram contacts", 120))


async def finished(client: AppClient, owner: dict[str, str], campaign_id: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        found = (await client.get(f"{CAMPAIGNS}/{campaign_id}", headers=owner)).json()
        return found if found["status"] in ("completed", "failed", "paused") else None

    return dict(await eventually(check, "the campaign to finish", 120))


async def recipients(
    client: AppClient, owner: dict[str, str], campaign_id: str
) -> dict[str, dict[str, Any]]:
    page = await client.get(f"{CAMPAIGNS}/{campaign_id}/recipients?limit=100", headers=owner)
    assert page.status_code == 200, page.text
    return {row["contact_id"]: row for row in page.json()["items"]}


async def test_a_plain_message_reaches_every_reachable_contact_once(
    worker: Path, client: AppClient, telegram: FakeTelegram
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    globex = await owner_headers(client, await onboard(client, "globex"))
    channel_id = await connect(client, owner, telegram)
    await write_in(client, channel_id, telegram)
    people = await telegram_contacts(client, owner)
    ann, bob, cid = people["Ann"], people["Bob"], people["Cid"]
    # A contact known only on Telegram (no phone, no email) can be changed.
    patched = await client.patch(
        f"{CONTACTS}/{ann['id']}", json={"attributes": {"code": "ANN10"}}, headers=owner
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["phone"] is None and patched.json()["email"] is None
    assert (await client.post(f"{CONTACTS}/{cid['id']}/opt-out", headers=owner)).status_code == 200
    dan = await add_contact(client, owner, name="Dan", phone="+14155550199")  # not on the bot
    theirs = await add_contact(client, globex, name="Theirs", phone="+14155550198")
    audience = {"contact_ids": [ann["id"], bob["id"], cid["id"], dan["id"], theirs["id"]]}
    created = await client.post(CAMPAIGNS, json={
        "name": "Spring", "channel_id": channel_id, "message": {"text": TEXT, "button": BUTTON},
        "variables": [{"source": "field", "value": "name"},
                      {"source": "attribute", "value": "code", "fallback": "WELCOME"}],
        "audience": audience,
    }, headers=owner)  # fmt: skip
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert campaign["template"] is None
    assert campaign["message"] == {"text": TEXT, "file_id": None, "media_kind": None,
                                   "filename": None, "button": BUTTON}  # fmt: skip
    assert [v["key"] for v in campaign["variables"]] == ["1", "2"]

    telegram.fail("sendMessage", 429, retry_after=1)  # the first send: flood control
    started = await client.post(f"{CAMPAIGNS}/{campaign['id']}/start", headers=owner)
    assert started.status_code == 200, started.text
    done = await finished(client, owner, campaign["id"])
    assert done["status"] == "completed", done

    calls = telegram.calls("sendMessage")
    throttled, accepted = calls[0], calls[1:]
    sent = Counter(int(c.params["chat_id"]) for c in accepted)
    assert sent == {5001: 1, 5002: 1}  # each reachable contact once; Cid opted out
    texts = {int(c.params["chat_id"]): c.params["text"] for c in accepted}
    assert texts == {5001: "Hi Ann, use ANN10 this week.", 5002: "Hi Bob, use WELCOME this week."}
    for call in accepted:  # the button under each text
        assert call.params["reply_markup"] == {"inline_keyboard": [[BUTTON]]}
    retried = next(c for c in accepted if c.params["chat_id"] == throttled.params["chat_id"])
    assert retried.at - throttled.at >= 0.9  # retry_after honoured

    rows = await recipients(client, owner, campaign["id"])
    assert set(rows) == {ann["id"], bob["id"], cid["id"], dan["id"]}  # never another tenant's
    assert rows[ann["id"]]["status"] == "sent" and rows[ann["id"]]["address"]["user_id"] == "5001"
    assert rows[ann["id"]]["wamid"].startswith("5001:")
    assert rows[ann["id"]]["variables"] == {"1": "Ann", "2": "ANN10"}
    assert rows[cid["id"]]["skip_reason"] == "opted_out"
    assert rows[dan["id"]]["status"] == "skipped"
    assert rows[dan["id"]]["skip_reason"] == "not_on_channel"
    stats = (await client.get(f"{CAMPAIGNS}/{campaign['id']}/stats", headers=owner)).json()
    assert stats["recipients"] == 4 and stats["sent"] == 2 and stats["queued"] == 0
    assert stats["delivered"] == 0 and stats["failed"] == 0  # Telegram tells no delivery
    assert stats["skipped_by_reason"] == {"opted_out": 1, "not_on_channel": 1}
    assert stats["opted_out_skipped"] == 1 and stats["skipped"] == 2
    assert_problem(await client.get(f"{CAMPAIGNS}/{campaign['id']}", headers=globex), 404,
                   "not_found")  # fmt: skip

    # A stored file with its caption: uploaded to the one contact named, once.
    picture = png_bytes(2048)
    stored = await uploaded(client, owner, picture, "spring.png")
    with_file = await client.post(CAMPAIGNS, json={
        "name": "Spring picture", "channel_id": channel_id,
        "message": {"text": "For you, {{1}}", "file_id": stored["id"]},
        "variables": [{"source": "field", "value": "name"}],
        "audience": {"contact_ids": [bob["id"]]},
    }, headers=owner)  # fmt: skip
    assert with_file.status_code == 201, with_file.text
    assert with_file.json()["message"]["media_kind"] == "image"
    second = with_file.json()["id"]
    assert (await client.post(f"{CAMPAIGNS}/{second}/start", headers=owner)).status_code == 200
    assert (await finished(client, owner, second))["status"] == "completed"
    [photo] = telegram.calls("sendPhoto")
    assert int(photo.params["chat_id"]) == 5002 and photo.params["caption"] == "For you, Bob"
    assert photo.files["photo"].data == picture
    assert len(telegram.calls("sendMessage")) == len(calls)  # nothing else was sent


def messenger_channel(box: SecretBox) -> Channel:
    now = utcnow()
    return Channel(
        type=ChannelType.MESSENGER, name="Page",
        settings=MessengerSettings(page_id="990001", api_version="v26.0",
                                   graph_base_url="http://127.0.0.1:9"),
        verify_token="verify-me-please", messages_per_second=80, created_at=now, updated_at=now,
    )  # fmt: skip


async def test_content_rules_permissions_and_isolation(
    client: AppClient, telegram: FakeTelegram
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    globex_tenant = await onboard(client, "globex")
    globex = await owner_headers(client, globex_tenant)
    channel_id = await connect(client, owner, telegram)
    whatsapp_id = await stock_tenant(client.container, acme.tenant.id or "")
    with tenant_context(TenantId(acme.tenant.id or "")):
        repo: ChannelRepository = client.container.resolve(ChannelRepository)
        messenger = await repo.add(messenger_channel(client.container.resolve(SecretBox)))
    theirs_file = await uploaded(client, globex, png_bytes(64), "theirs.png")

    def body(**changes: Any) -> dict[str, Any]:
        return {"name": "Promo", "channel_id": channel_id, "message": {"text": "Hello {{1}}"},
                "variables": [{"source": "field", "value": "name", "fallback": "friend"}],
                "audience": {"all": True}, **changes}  # fmt: skip

    async def refused(payload: dict[str, Any], code: str, headers: dict[str, str] = owner) -> str:
        response = await client.post(CAMPAIGNS, json=payload, headers=headers)
        return str(assert_problem(response, 422, code)["detail"])

    template = {"name": "greeting", "language": "en"}
    detail = await refused(body(channel_id=whatsapp_id), "template_required")
    assert "24-hour" in detail
    await refused(body(template=template, message=None), "templates_not_supported")
    await refused(body(template=template), "invalid_campaign_content")  # both
    await refused(body(message=None), "invalid_campaign_content")  # neither
    await refused(body(message={"text": "   "}, variables=[]), "invalid_campaign_content")
    await refused(body(message={"text": "Hi {{2}}"}), "invalid_campaign_content")  # a gap
    await refused(body(variables=[]), "template_variables_unmapped")
    await refused(body(message={"text": "x" * 4097}, variables=[]), "invalid_input")
    await refused(body(message={"text": "x" * 1025, "file_id": theirs_file["id"]},
                       variables=[]), "unknown_file")  # fmt: skip
    await refused(body(message={"text": "Hi", "file_id": "0" * 24}, variables=[]),
                  "unknown_file")  # fmt: skip
    ours = await uploaded(client, owner, png_bytes(64), "ours.png")
    await refused(body(message={"text": "x" * 1025, "file_id": ours["id"]}, variables=[]),
                  "invalid_campaign_content")  # a caption over 1024  # fmt: skip
    await refused(body(message={"text": "Hi", "file_id": ours["id"], "button": BUTTON},
                       variables=[]), "invalid_campaign_content")  # fmt: skip
    await refused(body(message={"text": "Hi", "button": {"text": "x", "url": "ftp://x/y"}},
                       variables=[]), "invalid_input")  # fmt: skip
    await refused(body(channel_id=messenger.id), "campaigns_not_supported")
    await refused(body(), "unknown_channel", headers=globex)  # acme's bot

    created = await client.post(CAMPAIGNS, json=body(), headers=owner)
    assert created.status_code == 201, created.text
    campaign = created.json()
    path = f"{CAMPAIGNS}/{campaign['id']}"
    # A change keeps the rules: a template on Telegram is refused, a new text is checked.
    assert_problem(await client.patch(path, json={"template": template}, headers=owner), 422,
                   "templates_not_supported")  # fmt: skip
    changed = await client.patch(path, json={"message": {"text": "Bye {{1}}"}}, headers=owner)
    assert changed.status_code == 200, changed.text
    assert changed.json()["message"]["text"] == "Bye {{1}}"
    assert_problem(await client.patch(path, json={"message": {"text": "Bye"}}, headers=owner),
                   422, "template_variables_unmapped")  # fmt: skip

    # Permissions: no token 401, a member 403.
    tenant_only = {"X-Tenant-ID": acme.tenant.id or ""}
    assert_problem(await client.post(CAMPAIGNS, json=body(), headers=tenant_only), 401,
                   "unauthorized")  # fmt: skip
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    assert_problem(await client.post(CAMPAIGNS, json=body(), headers=member), 403, "forbidden")
    # Another tenant: the campaign is 404 to read, change, start or delete.
    assert_problem(await client.get(path, headers=globex), 404, "not_found")
    assert_problem(await client.patch(path, json={"name": "x"}, headers=globex), 404,
                   "not_found")  # fmt: skip
    assert_problem(await client.post(f"{path}/start", headers=globex), 404, "not_found")
    assert_problem(await client.delete(path, headers=globex), 404, "not_found")
    assert (await client.get(path, headers=owner)).json()["status"] == "draft"


async def in_process_run(
    client: AppClient,
    channel_id: str,
    chats: list[str],
    message: PlainMessage,
    media_id: str | None = None,
) -> tuple[Channel, CampaignRun]:
    """A running campaign of `message` to the Telegram users `chats` (made contacts), its
    run `sending` with its snapshot (in the current tenant's context)."""
    container = client.container
    now = utcnow()
    channel = await container.resolve(ChannelRepository).get(channel_id)
    assert channel is not None
    contacts: ContactRepository = container.resolve(ContactRepository)
    identities: ContactIdentityRepository = container.resolve(ContactIdentityRepository)
    ids = [
        await identities.contact_id_for(ChannelUserIdentity(
            channel_type=ChannelType.TELEGRAM, account_id=channel.account_id, user_id=chat))
        for chat in chats
    ]  # fmt: skip
    for contact_id in ids:
        await contacts.upsert_inbound_by_id(contact_id, channel_id, ContactIdentity(), now)
    campaign = await container.resolve(CampaignRepository).add(Campaign(
        name="In process", channel_id=channel_id, message=message,
        audience=Audience(contact_ids=ids), status=CampaignStatus.RUNNING,
        created_at=now, updated_at=now,
    ))  # fmt: skip
    run = await container.resolve(CampaignRunRepository).create(CampaignRun(
        campaign_id=campaign.id or "", window=now, status=RunStatus.SENDING,
        recipients=len(ids), started_at=now, media_id=media_id,
    ))  # fmt: skip
    assert run is not None and run.id is not None
    await container.resolve(CampaignRepository).update(
        campaign.id or "", {"current_run_id": run.id}
    )
    await container.resolve(CampaignRecipientRepository).add_snapshot([
        CampaignRecipient(
            campaign_id=campaign.id or "", run_id=run.id, contact_id=contact_id,
            address=RecipientAddress(user_id=chat), seq=seq, updated_at=now,
        )
        for seq, (contact_id, chat) in enumerate(zip(ids, chats, strict=True))
    ])  # fmt: skip
    return channel, run


async def send_file_campaign(
    client: AppClient, telegram: FakeTelegram, chats: list[str], *, media_id: str | None = None
) -> tuple[bytes, CampaignRun]:
    """An image campaign to `chats` sent by one slice in process (the run starting with
    `media_id` as a previous slice's kept id): the picture and the run after it."""
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    channel_id = await connect(client, owner, telegram)
    picture = png_bytes(4096)
    stored = await uploaded(client, owner, picture, "sale.png")
    message = PlainMessage(text="Sale", file_id=stored["id"], media_kind="image",
                           filename="sale.png")  # fmt: skip
    with tenant_context(TenantId(acme.tenant.id or "")):
        _, run = await in_process_run(client, channel_id, chats, message, media_id)
        outcome = await client.container.resolve(SendCampaignRun).execute(run.id or "")
        assert outcome is SliceOutcome.FINISHED
        after = await client.container.resolve(CampaignRunRepository).get(run.id or "")
        assert after is not None
        rows = await client.container.resolve(CampaignRecipientRepository).page(
            run.campaign_id, run_id=run.id, status=None, cursor=None, limit=100
        )
    assert [row.status.value for row in rows.items] == ["sent"] * len(chats)
    return picture, after


def full_size_id(answer: Seen) -> str:
    """The `file_id` of the largest size in the fake's answer to an uploaded photo."""
    return str(answer.answer["photo"][-1]["file_id"])


async def test_an_image_is_uploaded_once_and_sent_by_its_id_after(
    client: AppClient, telegram: FakeTelegram
) -> None:
    """Ten recipients, one slice: one request carries the bytes, the nine others the file
    id it gave (the full size); each chat gets one photo with the caption; the id is kept
    on the run for its next slices."""
    chats = [str(7001 + n) for n in range(10)]
    picture, run = await send_file_campaign(client, telegram, chats)
    photos = telegram.calls("sendPhoto")
    assert Counter(str(c.params["chat_id"]) for c in photos) == dict.fromkeys(chats, 1)
    [upload] = [c for c in photos if c.sent_by == "bytes"]
    assert upload.files["photo"].data == picture
    assert upload is photos[0]  # the others waited for its answer
    file_id = full_size_id(upload)
    assert [c.params["photo"] for c in photos[1:]] == [file_id] * 9
    assert {c.sent_by for c in photos[1:]} == {"id"}
    assert {c.params["caption"] for c in photos} == {"Sale"}
    assert run.media_id == file_id


async def test_a_refused_file_id_falls_back_to_the_bytes(
    client: AppClient, telegram: FakeTelegram
) -> None:
    """A run whose kept id the provider refuses (400 "wrong file identifier"): that row is
    sent again with the bytes, the new id is used for the rows after; one photo a chat."""
    chats = [str(7101 + n) for n in range(4)]
    picture, run = await send_file_campaign(client, telegram, chats, media_id="AgACgone")
    photos = telegram.calls("sendPhoto")
    refused = [c for c in photos if c.params.get("photo") == "AgACgone"]
    assert refused and all(c.answer is None for c in refused)  # refused: nothing was sent
    [upload] = [c for c in photos if c.sent_by == "bytes"]  # one upload for all of them
    assert upload.files["photo"].data == picture
    assert upload.params["chat_id"] in {c.params["chat_id"] for c in refused}
    accepted = [c for c in photos if c.answer is not None]
    assert Counter(str(c.params["chat_id"]) for c in accepted) == dict.fromkeys(chats, 1)
    reused = [c for c in accepted if c is not upload]
    assert {c.params["photo"] for c in reused} == {full_size_id(upload)}
    assert len(photos) == len(refused) + len(chats)
    assert run.media_id == full_size_id(upload)


async def test_the_chat_bucket_is_shared_with_the_inbox(
    client: AppClient, telegram: FakeTelegram
) -> None:
    """In process (the send engine's slice, real database and Redis): a chat whose bucket
    the inbox holds (a `retry_after` it was told) gets its campaign message once the hold
    is over; the other chats at once; each once."""
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    channel_id = await connect(client, owner, telegram)
    container = client.container
    chats = ["6001", "6002", "6003"]
    with tenant_context(TenantId(acme.tenant.id or "")):
        channel, run = await in_process_run(client, channel_id, chats, PlainMessage(text="Hello"))
        limiter: SendRateLimiter = container.resolve(SendRateLimiter)
        held = chat_bucket("telegram", channel.account_id, "6002")
        await limiter.hold(held, seconds=2, rate=1, capacity=1)
        started = time.monotonic()
        outcome = await container.resolve(SendCampaignRun).execute(run.id or "")
    assert outcome is SliceOutcome.FINISHED
    sends = {str(c.params["chat_id"]): c.at for c in telegram.calls("sendMessage")}
    assert Counter(
        str(c.params["chat_id"]) for c in telegram.calls("sendMessage")
    ) == dict.fromkeys(chats, 1)
    assert sends["6002"] - started >= 1.8  # waited for the inbox's hold
    assert sends["6001"] < sends["6002"] and sends["6003"] < sends["6002"]
