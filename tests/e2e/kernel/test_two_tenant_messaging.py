"""Two tenants messaging at once (#17 point 3, second part): each has a WhatsApp channel on
the fake Graph API and an agent socket open; customers write to both channels at once
(signed webhooks, through the real worker), both owners answer (sends reaching the fake
Graph), create contacts and campaigns and ask the AI assistant (streamed from the fake
LLM), all interleaved. Then a sweep: each socket carried only its own tenant's events;
each tenant reads and lists only its own channels, conversations, messages, contacts,
campaigns and AI conversations (the other's are 404 and unlisted, and cannot be changed
or deleted); every stored document carries its own tenant."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from api.domain.identity.auth import SecretBox
from api.domain.messaging.channels import ChannelRepository, SecretName
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.base.mongo import MongoClient
from tests.support.ai_stack import OLLAMA_MODEL, Person, ai_settings, ask
from tests.support.campaigns import campaign_body, stock_templates
from tests.support.channels import whatsapp_channel
from tests.support.fake_graph import FakeGraph, serve_fake_graph
from tests.support.fake_llm import FakeLLM, serve_fake_llm
from tests.support.inbox import text_delivery
from tests.support.onboarding import onboard, owner_headers
from tests.support.sockets import (
    LiveServer,
    live_server,
    socket_to,
    subscribed,
    token_of,
    with_realtime,
)
from tests.support.webhook_calls import signed

API = "/api/v1"
SECRET = "two-tenants-app-secret-0123456789"
CUSTOMERS = 4  # customers writing to each tenant's channel, all at once


@pytest.fixture
async def server(mongo_url: str, redis_url: str, db_name: str) -> AsyncIterator[LiveServer]:
    async with serve_fake_llm(FakeLLM()) as llm_url:
        settings = ai_settings(mongo_url, redis_url, db_name, llm_url)
        async with live_server(with_realtime(settings)) as running:
            yield running


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    fake = FakeGraph()
    async with serve_fake_graph(fake):
        yield fake


@dataclass
class Side:
    name: str
    tenant_id: str
    headers: dict[str, str]
    channel_id: str
    number: str
    ids: dict[str, set[str]] = field(default_factory=dict)  # kind -> ids made
    frames: list[dict[str, Any]] = field(default_factory=list)

    def made(self, kind: str, id_: str) -> None:
        self.ids.setdefault(kind, set()).add(id_)


async def listen(ws: ClientConnection, side: Side, done: asyncio.Event) -> None:
    while not done.is_set():
        try:
            raw = await asyncio.wait_for(ws.recv(), 0.2)
        except TimeoutError:
            continue
        except ConnectionClosed:
            return
        side.frames.append(json.loads(raw))


async def settle(probe: Any, what: str, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := await probe()):
        assert time.monotonic() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.1)
    return value


async def run_side(server: LiveServer, side: Side, graph: FakeGraph) -> None:
    """Customers write, the owner answers each, makes a contact and a campaign."""
    http, headers = server.remote, side.headers
    phones = [f"49{side.number[-4:]}{n:05d}" for n in range(CUSTOMERS)]

    async def customer(n: int) -> None:
        body = text_delivery(side.number, (f"wamid.{side.name}{n}", phones[n], f"{side.name} {n}"))
        posted = await http.post(f"{API}/webhooks/whatsapp/{side.channel_id}", content=body,
                                 headers=signed(body, SECRET))  # fmt: skip
        assert posted.status_code == 200, posted.text

    async def campaign(n: int) -> None:
        body = campaign_body(side.channel_id, name=f"{side.name} campaign {n}")
        created = await http.post(f"{API}/campaigns", json=body, headers=headers)
        assert created.status_code == 201, created.text
        side.made("campaigns", created.json()["id"])

    async def contact(n: int) -> None:
        body = {"phone": f"+4916{side.number[-4:]}{n:04d}", "name": f"{side.name} {n}"}
        created = await http.post(f"{API}/contacts", json=body, headers=headers)
        assert created.status_code == 201, created.text
        side.made("contacts", created.json()["id"])

    async def chat(n: int) -> None:
        person = Person("", side.tenant_id, headers)
        got = await ask(http, person, {"message": f"{side.name} asks {n}", "model": OLLAMA_MODEL})
        assert got.status == 200 and got.named("done"), (got.status, got.problem)
        side.made("ai_conversations", got.meta["conversation_id"])

    await asyncio.gather(
        *(customer(n) for n in range(CUSTOMERS)),
        *(campaign(n) for n in range(2)),
        *(contact(n) for n in range(2)),
        *(chat(n) for n in range(2)),
    )

    async def conversations() -> list[dict[str, Any]]:
        listed = await http.get(f"{API}/conversations", headers=headers)
        assert listed.status_code == 200, listed.text
        items: list[dict[str, Any]] = listed.json()["items"]
        return items if len(items) == CUSTOMERS else []

    for item in await settle(conversations, f"{side.name}'s conversations"):
        side.made("conversations", item["id"])
        side.made("contacts", item["contact"]["id"])

    async def answer(conversation_id: str) -> None:
        body = {"conversation_id": conversation_id, "type": "text",
                "text": {"body": f"{side.name} answers {conversation_id}"}}  # fmt: skip
        sent = await http.post(f"{API}/messages", json=body, headers=headers)
        assert sent.status_code == 202, sent.text
        side.made("messages", sent.json()["id"])

    await asyncio.gather(*(answer(c) for c in side.ids["conversations"]))

    async def all_sent() -> bool:
        for message_id in side.ids["messages"]:
            got = await http.get(f"{API}/messages/{message_id}", headers=headers)
            if got.status_code != 200 or got.json()["status"] == "queued":
                return False
        return True

    await settle(all_sent, f"{side.name}'s answers sent")
    for conversation_id in side.ids["conversations"]:
        history = await http.get(f"{API}/conversations/{conversation_id}/messages",
                                 headers=headers)  # fmt: skip
        assert history.status_code == 200, history.text
        for message in history.json()["items"]:
            side.made("messages", message["id"])


async def test_two_tenants_messaging_at_once_never_see_each_others_conversations(
    server: LiveServer,
    graph: FakeGraph,
    worker: Path,
    mongo_client: MongoClient,
    db_name: str,
) -> None:
    local = server.local
    box: SecretBox = local.container.resolve(SecretBox)
    sides = []
    for name, number in (("acme", "110000000001"), ("beta", "220000000002")):
        tenant = await onboard(local, name)
        tenant_id = tenant.tenant.id or ""
        channel = whatsapp_channel(box, graph.base_url, channel_id=None, phone_number_id=number)
        secrets = channel.secrets.with_secret(SecretName.APP_SECRET, box.encrypt(SECRET))
        with tenant_context(TenantId(tenant_id)):
            stored = await local.container.resolve(ChannelRepository).add(
                channel.model_copy(update={"secrets": secrets})
            )
        side = Side(name, tenant_id, await owner_headers(server.remote, tenant), stored.id or "",
                    number)  # fmt: skip
        side.made("channels", side.channel_id)
        await stock_templates(local.container, tenant_id, side.channel_id)
        sides.append(side)

    done = asyncio.Event()
    async with (
        socket_to(server, token_of(sides[0].headers)) as acme_ws,
        socket_to(server, token_of(sides[1].headers)) as beta_ws,
    ):
        for ws in (acme_ws, beta_ws):
            assert json.loads(await ws.recv())["type"] == "ready"
            await subscribed(ws)
        listeners = [asyncio.create_task(listen(ws, side, done))
                     for ws, side in zip((acme_ws, beta_ws), sides, strict=True)]  # fmt: skip
        await asyncio.gather(*(run_side(server, side, graph) for side in sides))

        async def every_answer_seen() -> bool:
            return all(
                side.ids["messages"] <= {f["data"].get("id") for f in side.frames if "data" in f}
                for side in sides
            )

        await settle(every_answer_seen, "each socket's message events", seconds=30)
        done.set()
        await asyncio.gather(*listeners)

    # The sockets: each carried its own tenant's events, and none of the other's.
    for side, other in (sides, sides[::-1]):
        mine = set().union(*side.ids.values())
        theirs = set().union(*other.ids.values())
        for frame in side.frames:
            data = frame.get("data") or {}
            named = {data.get("id"), data.get("conversation_id"), data.get("contact_id")}
            assert not named & theirs, (side.name, frame)
            assert data.get("tenant_id") in (None, side.tenant_id), (side.name, frame)
        assert {f["data"]["id"] for f in side.frames if "data" in f} & mine

    # Reads, changes and lists: only one's own.
    http = server.remote
    paths = {"channels": "channels", "conversations": "conversations", "messages": "messages",
             "contacts": "contacts", "campaigns": "campaigns",
             "ai_conversations": "ai/conversations"}  # fmt: skip
    collections = {"channels": "channels", "conversations": "conversations",
                   "messages": "inbox_messages", "contacts": "contacts",
                   "campaigns": "campaigns", "ai_conversations": "ai_conversations"}  # fmt: skip
    for side, other in (sides, sides[::-1]):
        for kind, ids in side.ids.items():
            for id_ in ids:
                item = f"{API}/{paths[kind]}/{id_}"
                assert (await http.get(item, headers=side.headers)).status_code == 200, item
                assert (await http.get(item, headers=other.headers)).status_code == 404, item
                raw = await mongo_client[db_name][collections[kind]].find_one(
                    {"_id": ObjectId(id_)}
                )
                assert raw is not None and raw["tenant_id"] == side.tenant_id, (kind, id_)
        for conversation_id in side.ids["conversations"]:
            crossing = await http.post(
                f"{API}/messages",
                json={"conversation_id": conversation_id, "type": "text",
                      "text": {"body": "not yours"}},
                headers=other.headers,
            )  # fmt: skip
            assert crossing.status_code == 404, crossing.text
            listed = await http.get(f"{API}/conversations/{conversation_id}/messages",
                                    headers=other.headers)  # fmt: skip
            assert listed.status_code == 404, listed.text
        for conversation_id in side.ids["ai_conversations"]:
            item = f"{API}/ai/history/{conversation_id}"
            assert (await http.get(item, headers=other.headers)).status_code == 404, item
            item = f"{API}/ai/conversations/{conversation_id}"
            assert (await http.delete(item, headers=other.headers)).status_code == 404, item
            assert (await http.get(item, headers=side.headers)).status_code == 200, item
        for kind in ("channels", "conversations", "contacts", "campaigns", "ai_conversations"):
            listed = await http.get(f"{API}/{paths[kind]}", headers=other.headers)
            assert listed.status_code == 200, listed.text
            assert not {i["id"] for i in listed.json()["items"]} & side.ids[kind], kind
        for campaign_id in side.ids["campaigns"]:
            changed = await http.patch(f"{API}/campaigns/{campaign_id}",
                                       json={"name": "taken"}, headers=other.headers)  # fmt: skip
            assert changed.status_code == 404, changed.text
    # Each customer's message reached only its own tenant's inbox, each once; each answer
    # reached the fake Graph once, for the right number.
    sends = [s for s in graph.requests if s.endpoint == "send"]
    for side in sides:
        texts = [s.body["text"]["body"] for s in sends if s.body["text"]["body"].startswith(
            f"{side.name} answers")]  # fmt: skip
        assert len(texts) == len(set(texts)) == CUSTOMERS, texts
