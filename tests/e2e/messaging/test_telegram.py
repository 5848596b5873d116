"""Telegram end to end against the real servers, the real worker and a fake Bot API:
connecting a bot (getMe, setWebhook with a secret token; a bad token 422, a bot twice
409), the secret-token webhook (missing or wrong 403), updates stored then processed once
per `update_id` (even delivered concurrently), every inbound kind into the inbox (media
copied through getFile and the file download), sends of every kind through the send job
(uploads, replies, inline keyboards, reactions; a 429's `retry_after` honoured), token
rotation and disconnection, permissions and tenant isolation."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from api.infrastructure.persistence.messaging.webhooks import WebhookItemDocument
from tests.support.app import AppClient, assert_problem
from tests.support.fake_telegram import BOT_ID, BOT_TOKEN, OTHER_BOT_TOKEN, FakeTelegram
from tests.support.fake_telegram import serve_fake_telegram as serve_telegram
from tests.support.files import png_bytes, uploaded
from tests.support.onboarding import onboard, owner_headers
from tests.support.people import signed_in
from tests.support.sending import queued, settled
from tests.support.webhook_calls import processed

CHANNELS = "/api/v1/channels"
HOOKS = "/api/v1/webhooks/telegram"
CONVERSATIONS = "/api/v1/conversations"
USER = {"id": 424242, "is_bot": False, "first_name": "Ana", "last_name": "Lima",
        "username": "ana_l"}  # fmt: skip
CHAT = {"id": 424242, "type": "private", "first_name": "Ana"}
ROTATED = "7000000001:AARotatedTokenOfAcmeBot_987654321"


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    fake.bots[ROTATED] = fake.bots[BOT_TOKEN]  # the same bot, a new token
    async with serve_telegram(fake):
        yield fake


async def connect(
    client: AppClient, headers: dict[str, str], telegram: FakeTelegram, token: str = BOT_TOKEN
) -> dict[str, Any]:
    response = await client.post(
        f"{CHANNELS}/telegram",
        json={"name": "Acme bot", "bot_token": token, "api_base_url": telegram.base_url},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert token not in response.text and token.split(":")[1] not in response.text
    return dict(response.json())


def secret_of(telegram: FakeTelegram, token: str = BOT_TOKEN) -> str:
    return str(telegram.webhooks[token]["secret_token"])


async def deliver(
    client: AppClient, channel_id: str, update: dict[str, Any], secret: str | None
) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    response = await client.post(
        f"{HOOKS}/{channel_id}", content=json.dumps(update).encode(), headers=headers
    )
    return response.status_code


def message_update(update_id: int, message_id: int, **content: Any) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {"message_id": message_id, "date": int(time.time()), "chat": CHAT,
                    "from": USER, **content},
    }  # fmt: skip


async def eventually(check: Any, seconds: float = 90) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("not in time")
        await asyncio.sleep(0.2)


async def history(client: AppClient, owner: dict[str, str], count: int) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]] | None:
        found = (await client.get(CONVERSATIONS, headers=owner)).json()["items"]
        if not found:
            return None
        page = await client.get(
            f"{CONVERSATIONS}/{found[0]['id']}/messages?limit=100", headers=owner
        )
        items = list(reversed(page.json()["items"]))
        return items if len(items) >= count else None

    return list(await eventually(check))


async def test_connect_a_bot(client: AppClient, telegram: FakeTelegram) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    channel = await connect(client, owner, telegram)
    assert channel["type"] == "telegram" and channel["status"] == "active"
    assert channel["bot_id"] == str(BOT_ID) == channel["account_id"]
    assert channel["bot_username"] == "acme_bot" and channel["api_base_url"] == telegram.base_url
    assert channel["has_access_token"] is True and channel["phone_number_id"] is None
    assert channel["messages_per_second"] == 30
    assert channel["webhook_url"].endswith(f"{HOOKS}/{channel['id']}")
    registered = telegram.webhooks[BOT_TOKEN]
    assert registered["url"] == channel["webhook_url"]
    assert len(registered["secret_token"]) >= 32
    assert set(registered["allowed_updates"]) >= {"message", "edited_message", "callback_query"}
    # A refused token: 422 without the token; nothing stored.
    bad = "7000000009:AAUnknownTokenUnknownToken_0000000"
    refused = await client.post(
        f"{CHANNELS}/telegram",
        json={"name": "x", "bot_token": bad, "api_base_url": telegram.base_url},
        headers=owner,
    )
    problem = assert_problem(refused, 422, "channel_check_failed")
    assert bad not in refused.text and "Unauthorized" in problem["detail"]
    listed = (await client.get(f"{CHANNELS}?type=telegram", headers=owner)).json()
    assert listed["total"] == 1
    # The same bot again, here or in another tenant: 409.
    again = await client.post(
        f"{CHANNELS}/telegram",
        json={"name": "y", "bot_token": BOT_TOKEN, "api_base_url": telegram.base_url},
        headers=owner,
    )
    assert_problem(again, 409, "conflict")
    globex = await owner_headers(client, await onboard(client, "globex"))
    elsewhere = await client.post(
        f"{CHANNELS}/telegram",
        json={"name": "y", "bot_token": ROTATED, "api_base_url": telegram.base_url},
        headers=globex,
    )
    assert_problem(elsewhere, 409, "conflict")
    malformed = await client.post(
        f"{CHANNELS}/telegram", json={"name": "z", "bot_token": "nope"}, headers=owner
    )
    assert malformed.status_code == 422
    # Rotation: checked, and the webhook registered again through the new token.
    rotated = await client.patch(
        f"{CHANNELS}/{channel['id']}", json={"bot_token": ROTATED}, headers=owner
    )
    assert rotated.status_code == 200, rotated.text
    assert ROTATED not in rotated.text
    assert telegram.webhooks[ROTATED]["url"] == channel["webhook_url"]
    wrong = await client.patch(
        f"{CHANNELS}/{channel['id']}", json={"bot_token": OTHER_BOT_TOKEN[:11] + "x" * 30},
        headers=owner,
    )  # fmt: skip
    assert_problem(wrong, 422, "channel_check_failed")
    another = await client.patch(
        f"{CHANNELS}/{channel['id']}", json={"bot_token": OTHER_BOT_TOKEN}, headers=owner
    )
    assert "another account" in assert_problem(another, 422, "channel_check_failed")["detail"]
    assert OTHER_BOT_TOKEN not in telegram.webhooks
    # Disconnect: deleteWebhook (best effort), the bot free again.
    assert (await client.delete(f"{CHANNELS}/{channel['id']}", headers=owner)).status_code == 204
    assert ROTATED not in telegram.webhooks and telegram.calls("deleteWebhook")
    assert (await connect(client, globex, telegram, ROTATED))["bot_id"] == str(BOT_ID)


async def test_permissions_and_isolation(
    worker: Path, client: AppClient, telegram: FakeTelegram
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    channel = await connect(client, owner, telegram)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    body = {"name": "x", "bot_token": OTHER_BOT_TOKEN, "api_base_url": telegram.base_url}
    tenant_only = {"X-Tenant-ID": acme.tenant.id or ""}
    assert_problem(
        await client.post(f"{CHANNELS}/telegram", json=body, headers=tenant_only),
        401, "unauthorized",
    )  # fmt: skip
    refused = await client.post(f"{CHANNELS}/telegram", json=body, headers=member)
    assert "channels:manage" in assert_problem(refused, 403, "forbidden")["detail"]
    # Another tenant sees neither the channel nor its conversations.
    globex = await owner_headers(client, await onboard(client, "globex"))
    assert_problem(
        await client.get(f"{CHANNELS}/{channel['id']}", headers=globex), 404, "not_found"
    )
    assert (await client.get(f"{CHANNELS}?type=telegram", headers=globex)).json()["total"] == 0
    secret = secret_of(telegram)
    assert await deliver(client, channel["id"], message_update(1, 10, text="hi"), secret) == 200
    [conversation] = await eventually(lambda: _items(client, owner))
    assert conversation["channel_type"] == "telegram"
    assert conversation["window_expires_at"] is None
    assert (await client.get(CONVERSATIONS, headers=globex)).json()["items"] == []
    assert_problem(
        await client.get(f"{CONVERSATIONS}/{conversation['id']}", headers=globex), 404, "not_found"
    )
    by_number = await client.post(
        "/api/v1/messages",
        json={"channel_id": channel["id"], "to": "+351910000000", "type": "text",
              "text": {"body": "x"}},
        headers=owner,
    )  # fmt: skip
    assert "chat id" in assert_problem(by_number, 422, "invalid_recipient")["detail"]
    template = await client.post(
        "/api/v1/messages",
        json={"conversation_id": conversation["id"], "type": "template",
              "template": {"name": "hello", "language": "en_US"}},
        headers=owner,
    )  # fmt: skip
    assert_problem(template, 422, "templates_not_supported")
    other = await client.post(
        "/api/v1/messages",
        json={"conversation_id": conversation["id"], "type": "text", "text": {"body": "x"}},
        headers=globex,
    )
    assert other.status_code == 404


async def _items(client: AppClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    return list((await client.get(CONVERSATIONS, headers=headers)).json()["items"])


async def test_webhook_secret_token(client: AppClient, telegram: FakeTelegram) -> None:
    owner = await owner_headers(client, await onboard(client, "acme"))
    channel = await connect(client, owner, telegram)
    update = message_update(5, 50, text="hello")
    assert await deliver(client, channel["id"], update, None) == 403
    assert await deliver(client, channel["id"], update, "wrong-secret") == 403
    assert await deliver(client, channel["id"], update, secret_of(telegram)[:-1]) == 403
    assert await deliver(client, "0" * 24, update, secret_of(telegram)) == 404
    assert await deliver(client, channel["id"], update, secret_of(telegram)) == 200
    garbage = await client.post(
        f"{HOOKS}/{channel['id']}", content=b"[1]",
        headers={"X-Telegram-Bot-Api-Secret-Token": secret_of(telegram)},
    )  # fmt: skip
    assert_problem(garbage, 400, "malformed_request")


async def test_inbound_kinds_once_each(
    worker: Path, client: AppClient, telegram: FakeTelegram
) -> None:
    owner = await owner_headers(client, await onboard(client, "acme"))
    channel = await connect(client, owner, telegram)
    secret = secret_of(telegram)
    photo = png_bytes(64)
    telegram.files["photo-big"] = ("photos/file_1.png", photo)
    updates = [
        message_update(100, 1, text="Hello there"),
        message_update(101, 2, photo=[
            {"file_id": "photo-small", "file_unique_id": "s", "width": 9, "height": 9},
            {"file_id": "photo-big", "file_unique_id": "b", "width": 90, "height": 90},
        ], caption="Look"),
        message_update(102, 3, document={"file_id": "doc-1", "file_unique_id": "d",
                                         "file_name": "menu.pdf", "mime_type": "application/pdf"}),
        message_update(103, 4, voice={"file_id": "voice-1", "file_unique_id": "v",
                                      "duration": 2, "mime_type": "audio/ogg"}),
        message_update(104, 5, location={"latitude": 38.72, "longitude": -9.14}),
        message_update(105, 6, contact={"phone_number": "+351910000000", "first_name": "Rui"}),
        message_update(106, 7, text="About this", reply_to_message={
            "message_id": 1, "date": 1, "chat": CHAT, "from": USER, "text": "Hello there"}),
        {"update_id": 107, "edited_message": {
            "message_id": 1, "date": 1, "edit_date": int(time.time()), "chat": CHAT,
            "from": USER, "text": "Hello there, edited"}},
    ]  # fmt: skip
    # The first update delivered six times at once: one message.
    codes = await asyncio.gather(
        *(deliver(client, channel["id"], updates[0], secret) for _ in range(6))
    )
    assert codes == [200] * 6
    await history(client, owner, 1)
    for update in updates[1:]:
        assert await deliver(client, channel["id"], update, secret) == 200
        await history(client, owner, 1 + updates.index(update))  # in order
    assert await deliver(client, channel["id"], updates[2], secret) == 200  # again: nothing new
    # Every delivery (the first update six times, each other once, the third again) has
    # been processed by the worker: what is stored now is all there will be.
    await processed(6 + len(updates) - 1 + 1)
    messages = await history(client, owner, len(updates))
    assert [m["type"] for m in messages] == [
        "text",
        "image",
        "document",
        "voice",
        "location",
        "contacts",
        "text",
        "edit",
    ]
    text, image, document, voice, location, contact, reply, edit = messages
    assert text["external_id"] == f"{CHAT['id']}:1" and image["text"] == "Look"
    assert image["content"]["media"]["media_id"] == "photo-big"
    assert document["content"]["media"]["filename"] == "menu.pdf"
    assert voice["content"]["media"]["voice"] is True
    assert location["content"]["location"] == {"latitude": 38.72, "longitude": -9.14}
    assert contact["content"]["contacts"][0]["phones"][0]["phone"] == "+351910000000"
    assert reply["reply_to_id"] == text["id"]
    assert edit["text"] == "Hello there, edited"

    # The edit annotated the original; the photo was copied into storage (getFile).
    async def copied() -> dict[str, Any] | None:
        found = (await client.get(f"/api/v1/messages/{image['id']}", headers=owner)).json()
        return found if found.get("media") else None

    stored = await eventually(copied)
    assert stored["media"]["size"] == len(photo)
    assert any(seen.params.get("file_id") == "photo-big" for seen in telegram.calls("getFile"))
    first = (await client.get(f"/api/v1/messages/{text['id']}", headers=owner)).json()
    assert first["text"] == "Hello there, edited"
    [conversation] = await _items(client, owner)
    assert conversation["contact"]["name"] == "Ana Lima"
    contacts = (await client.get("/api/v1/contacts", headers=owner)).json()["items"]
    assert len(contacts) == 1 and contacts[0]["username"] == "ana_l"


async def test_sends_of_every_kind(worker: Path, client: AppClient, telegram: FakeTelegram) -> None:
    owner = await owner_headers(client, await onboard(client, "acme"))
    channel = await connect(client, owner, telegram)
    assert (
        await deliver(client, channel["id"], message_update(1, 77, text="hi"), secret_of(telegram))
        == 200
    )
    [inbound] = await history(client, owner, 1)
    conversation_id = inbound["conversation_id"]
    picture = png_bytes(128)
    file = await uploaded(client, owner, picture, "menu.png")
    bodies: list[dict[str, Any]] = [
        {"type": "text", "text": {"body": "Hello Ana"}, "reply_to": inbound["id"]},
        {"type": "image", "image": {"file_id": file["id"], "caption": "Our menu"}},
        {"type": "document", "document": {"file_id": file["id"], "filename": "menu.png"}},
        {"type": "location", "location": {"latitude": 1.5, "longitude": 2.5}},
        {"type": "interactive", "interactive": {
            "type": "button", "body": {"text": "Pick one"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                                   {"type": "reply", "reply": {"id": "no", "title": "No"}}]}}},
        {"type": "reaction", "reaction": {"message_id": inbound["id"], "emoji": "👍"}},
    ]  # fmt: skip
    telegram.fail("sendMessage", 429, retry_after=2)  # the first send: flood control
    for body in bodies:
        message = await queued(client, owner, {"conversation_id": conversation_id, **body})
        done = await settled(client, owner, message["id"], seconds=90)
        assert done["status"] == "sent", done
    texts = telegram.calls("sendMessage")
    assert len(texts) == 3  # the 429, its retry, the keyboard
    assert texts[1].at - texts[0].at >= 1.9  # retry_after honoured
    assert texts[1].params["chat_id"] == str(USER["id"]) and texts[1].params["text"] == "Hello Ana"
    assert texts[1].params["reply_parameters"]["message_id"] == 77
    keyboard = texts[2].params["reply_markup"]["inline_keyboard"]
    assert keyboard == [[{"text": "Yes", "callback_data": "yes"}],
                        [{"text": "No", "callback_data": "no"}]]  # fmt: skip
    [photo] = telegram.calls("sendPhoto")
    assert photo.files["photo"].data == picture and photo.params["caption"] == "Our menu"
    [document] = telegram.calls("sendDocument")
    assert document.files["document"].filename == "menu.png"
    [spot] = telegram.calls("sendLocation")
    assert float(spot.params["latitude"]) == 1.5
    [reaction] = telegram.calls("setMessageReaction")
    assert reaction.params["message_id"] in (77, "77")
    assert reaction.params["reaction"] == [{"type": "emoji", "emoji": "👍"}]
    # Per chat about one a second: the sends to this chat were spread out.
    sends = sorted(s.at for s in telegram.requests if s.method.startswith("send"))
    assert sends[-1] - sends[0] >= len(sends) - 2


def press_update(update_id: int, press_id: str, data: str = "yes") -> dict[str, Any]:
    keyboard = [[{"text": "Yes", "callback_data": "yes"}], [{"text": "No", "callback_data": "no"}]]
    return {
        "update_id": update_id,
        "callback_query": {
            "id": press_id, "from": USER, "chat_instance": "-77", "data": data,
            "message": {"message_id": 900, "date": 1, "chat": CHAT, "from": {"id": BOT_ID,
                        "is_bot": True, "first_name": "Acme"}, "text": "Pick one",
                        "reply_markup": {"inline_keyboard": keyboard}},
        },
    }  # fmt: skip


def answers(telegram: FakeTelegram, press_id: str) -> int:
    return len(
        [c for c in telegram.calls("answerCallbackQuery") if c.params.get("callback_query_id")
         == press_id]
    )  # fmt: skip


async def item_settled(channel_id: str, update_id: int) -> dict[str, Any]:
    """The webhook item of the update once it is settled (done, ignored or failed)."""
    raw = WebhookItemDocument.get_pymongo_collection()

    async def check() -> dict[str, Any] | None:
        found = await raw.find_one({"channel_id": channel_id, "key": f"update:{update_id}"})
        return found if found and found["state"] in ("done", "ignored", "failed") else None

    return dict(await eventually(check))


async def test_a_button_press_is_answered_once(
    worker: Path, client: AppClient, telegram: FakeTelegram
) -> None:
    owner = await owner_headers(client, await onboard(client, "acme"))
    channel = await connect(client, owner, telegram)
    secret = secret_of(telegram)
    # Delivered three times (twice at once): stored once, answered once, after it is stored.
    codes = await asyncio.gather(
        *(deliver(client, channel["id"], press_update(300, "cbq-1"), secret) for _ in range(2))
    )
    assert codes == [200, 200]
    [pressed] = await history(client, owner, 1)
    assert pressed["type"] == "button_reply" and pressed["text"] == "Yes"

    async def answered() -> bool:
        return answers(telegram, "cbq-1") == 1

    await eventually(answered)
    assert await deliver(client, channel["id"], press_update(300, "cbq-1"), secret) == 200
    # The same press in another update (a client's retry): stored once, not answered again.
    assert await deliver(client, channel["id"], press_update(301, "cbq-1"), secret) == 200
    assert (await item_settled(channel["id"], 301))["state"] == "done"
    assert (await item_settled(channel["id"], 300))["state"] == "done"
    assert answers(telegram, "cbq-1") == 1
    [call] = telegram.calls("answerCallbackQuery")
    assert call.token == BOT_TOKEN
    # Telegram refusing the answer: logged; the press is stored and its item done, once.
    telegram.fail("answerCallbackQuery", 400, description="Bad Request: query is too old")
    assert await deliver(client, channel["id"], press_update(302, "cbq-2", "no"), secret) == 200
    item = await item_settled(channel["id"], 302)
    assert item["state"] == "done" and item["attempts"] == 1, item
    assert answers(telegram, "cbq-2") == 1
    messages = await history(client, owner, 2)
    assert [m["text"] for m in messages] == ["Yes", "No"]
    shown = await client.get(f"{CHANNELS}/{channel['id']}", headers=owner)
    assert shown.json()["status"] == "active"


async def test_sends_by_chat_id_find_or_make_the_conversation(
    worker: Path, client: AppClient, telegram: FakeTelegram
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    channel = await connect(client, owner, telegram)
    secret = secret_of(telegram)
    assert await deliver(client, channel["id"], message_update(1, 10, text="hi"), secret) == 200
    [inbound] = await history(client, owner, 1)

    def to(chat: str, body: str) -> dict[str, Any]:
        return {"channel_id": channel["id"], "to": chat, "type": "text", "text": {"body": body}}

    # A customer who wrote: their conversation.
    known = await queued(client, owner, to(str(USER["id"]), "Hello again"))
    assert known["conversation_id"] == inbound["conversation_id"]
    assert (await settled(client, owner, known["id"], seconds=90))["status"] == "sent"
    # A chat Parley has not seen: a contact and a conversation are made; no window.
    fresh = await queued(client, owner, to(" 5550001 ", "Your order shipped"))
    assert fresh["conversation_id"] != inbound["conversation_id"]
    assert (await settled(client, owner, fresh["id"], seconds=90))["status"] == "sent"
    chats = [c.params["chat_id"] for c in telegram.calls("sendMessage")]
    assert chats == [str(USER["id"]), "5550001"]
    again = await queued(client, owner, to("5550001", "And a second one"))
    assert again["conversation_id"] == fresh["conversation_id"]
    # When that customer writes, it joins the conversation the send made, one contact.
    newcomer = {"id": 5550001, "is_bot": False, "first_name": "Rui"}
    update = {
        "update_id": 2,
        "message": {
            "message_id": 11,
            "date": int(time.time()),
            "chat": {"id": 5550001, "type": "private"},
            "from": newcomer,
            "text": "Thanks",
        },
    }
    assert await deliver(client, channel["id"], update, secret) == 200  # fmt: skip

    async def answered() -> list[dict[str, Any]] | None:
        found = await client.get(
            f"{CONVERSATIONS}/{fresh['conversation_id']}/messages", headers=owner
        )
        items = found.json()["items"]
        return items if any(m["direction"] == "inbound" for m in items) else None

    await eventually(answered)
    contacts = (await client.get("/api/v1/contacts", headers=owner)).json()["items"]
    assert len(contacts) == 2
    # Refused: what is no private chat id (422), without messages:send (403), no token
    # (401), another tenant's channel (404); nothing was stored.
    for bad in ("+351910000000", "-1001234567890", "ana_l", "12x45"):
        refused = await client.post("/api/v1/messages", json=to(bad, "x"), headers=owner)
        assert "chat id" in assert_problem(refused, 422, "invalid_recipient")["detail"], bad
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    forbidden = await client.post("/api/v1/messages", json=to("5550002", "x"), headers=member)
    assert_problem(forbidden, 403, "forbidden")
    anonymous = await client.post(
        "/api/v1/messages", json=to("5550002", "x"), headers={"X-Tenant-ID": acme.tenant.id or ""}
    )
    assert_problem(anonymous, 401, "unauthorized")
    globex = await owner_headers(client, await onboard(client, "globex"))
    elsewhere = await client.post("/api/v1/messages", json=to("5550002", "x"), headers=globex)
    assert_problem(elsewhere, 404, "not_found")
    assert len((await client.get("/api/v1/contacts", headers=owner)).json()["items"]) == 2
    assert (await client.get("/api/v1/contacts", headers=globex)).json()["items"] == []


async def test_group_chats_are_ignored(
    worker: Path, client: AppClient, telegram: FakeTelegram
) -> None:
    owner = await owner_headers(client, await onboard(client, "acme"))
    channel = await connect(client, owner, telegram)
    group = {"id": -1001234567890, "type": "supergroup", "title": "Acme fans"}
    update = {"update_id": 400, "message": {"message_id": 5, "date": int(time.time()),
              "chat": group, "from": USER, "text": "hello group"}}  # fmt: skip
    assert await deliver(client, channel["id"], update, secret_of(telegram)) == 200
    assert (await item_settled(channel["id"], 400))["state"] == "ignored"
    assert await _items(client, owner) == []
    assert (await client.get("/api/v1/contacts", headers=owner)).json()["items"] == []
