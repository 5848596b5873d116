"""The WhatsApp gateway (pywa_async over httpx; sends over aiohttp) against the fake Graph
API: every call Parley makes, Graph's errors as provider-neutral ones (a send left without
an answer as an unknown outcome), one client per channel token."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
from devservers import free_port

from api.domain.messaging.content import (
    InteractiveContent,
    LocationContent,
    MediaContent,
    MediaKind,
    OutboundMessage,
    ReactionContent,
    Recipient,
    TemplateContent,
    TextContent,
)
from api.domain.messaging.errors import (
    ChannelOutcomeUnknown,
    ChannelPermanentFailure,
    ChannelRateLimited,
    ChannelTokenInvalid,
    ChannelTransientFailure,
)
from api.domain.messaging.gateway import TemplateDraft
from api.infrastructure.channels.registry import ClientOptions, ProviderGateways
from api.infrastructure.security.secret_box import FernetSecretBox, derive_dev_key
from tests.support.channels import whatsapp_channel
from tests.support.fake_graph import OTHER_TOKEN, PHONE_NUMBER_ID, TOKEN, WABA_ID, FakeGraph

BOX = FernetSecretBox(derive_dev_key("channel-tests"))
PHONE = Recipient(phone="+1 650-555-1234")


@pytest.fixture
async def gateways() -> AsyncIterator[ProviderGateways]:
    registry = ProviderGateways(BOX)
    try:
        yield registry
    finally:
        await registry.close()


def text(body: str = "Hello") -> OutboundMessage:
    return OutboundMessage(recipient=PHONE, content=TextContent(body=body))


async def test_check_reads_the_number_profile(graph: FakeGraph, gateways: ProviderGateways) -> None:
    profile = await gateways.check(whatsapp_channel(BOX, graph.base_url, channel_id=None))
    assert profile.display_phone_number == "+1 555-010-0199"
    assert profile.verified_name == "Acme Support" and profile.quality_rating == "GREEN"
    seen = graph.requests[-1]
    assert seen.path == f"/v26.0/{PHONE_NUMBER_ID}" and seen.token == TOKEN
    assert gateways.cached_client_count() == 0  # a check keeps no client


async def test_check_refusals(graph: FakeGraph, gateways: ProviderGateways) -> None:
    with pytest.raises(ChannelTokenInvalid):
        await gateways.check(whatsapp_channel(BOX, graph.base_url, token="EAAG-wrong"))
    with pytest.raises(ChannelPermanentFailure) as unknown:
        await gateways.check(whatsapp_channel(BOX, graph.base_url, phone_number_id="999"))
    assert unknown.value.provider_code == 100
    with pytest.raises(ChannelTransientFailure):
        await gateways.check(whatsapp_channel(BOX, "http://127.0.0.1:9"))  # nothing listens


async def test_send_every_content_kind(graph: FakeGraph, gateways: ProviderGateways) -> None:
    gateway = gateways.for_channel(whatsapp_channel(BOX, graph.base_url))
    contents = [
        TextContent(body="Hi there", preview_url=True),
        TemplateContent(name="order_update", language="en_US", components=[{"type": "body"}]),
        MediaContent(media_kind=MediaKind.IMAGE, link="https://example.com/a.png", caption="A"),
        MediaContent(media_kind=MediaKind.DOCUMENT, media_id="123", filename="a.pdf"),
        LocationContent(latitude=1.5, longitude=2.5, name="Here"),
        InteractiveContent(interactive={"type": "button", "body": {"text": "Pick"}}),
        ReactionContent(message_id="wamid.X", emoji="\U0001f44d"),
    ]
    for content in contents:
        result = await gateway.send(OutboundMessage(recipient=PHONE, content=content))
        assert result.external_id.startswith("wamid.FAKE")
    bodies = [seen.body for seen in graph.requests if seen.endpoint == "send"]
    assert [b["type"] for b in bodies] == [
        "text", "template", "image", "document", "location", "interactive", "reaction",
    ]  # fmt: skip
    assert all(b["to"] == "16505551234" and b["messaging_product"] == "whatsapp" for b in bodies)
    assert bodies[0]["text"] == {"body": "Hi there", "preview_url": True}
    assert bodies[1]["template"] == {
        "name": "order_update", "language": {"code": "en_US"}, "components": [{"type": "body"}],
    }  # fmt: skip
    assert bodies[2]["image"] == {"link": "https://example.com/a.png", "caption": "A"}
    assert bodies[3]["document"] == {"id": "123", "filename": "a.pdf"}
    assert bodies[4]["location"] == {"latitude": 1.5, "longitude": 2.5, "name": "Here"}
    assert bodies[6]["reaction"] == {"message_id": "wamid.X", "emoji": "\U0001f44d"}


async def test_send_by_user_id_with_reply_context(
    graph: FakeGraph, gateways: ProviderGateways
) -> None:
    gateway = gateways.for_channel(whatsapp_channel(BOX, graph.base_url))
    result = await gateway.send(
        OutboundMessage(
            recipient=Recipient(user_id="US.77771208655302741918"),
            content=TextContent(body="Hello Kai"),
            reply_to="wamid.INBOUND",
            tracker="msg-42",
        )
    )
    assert result.recipient_user_id == "US.77771208655302741918"
    body = graph.requests[-1].body
    assert "to" not in body and body["recipient"] == "US.77771208655302741918"
    assert body["context"] == {"message_id": "wamid.INBOUND"}
    assert body["biz_opaque_callback_data"] == "msg-42"


async def test_mark_read_with_and_without_typing(
    graph: FakeGraph, gateways: ProviderGateways
) -> None:
    gateway = gateways.for_channel(whatsapp_channel(BOX, graph.base_url))
    await gateway.mark_read("wamid.IN1")
    await gateway.mark_read("wamid.IN2", typing=True)
    bodies = [seen.body for seen in graph.requests if seen.endpoint == "mark_read"]
    assert bodies[0] == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.IN1",
    }
    assert bodies[1]["typing_indicator"] == {"type": "text"}


async def test_media_is_streamed_with_the_bearer_token(
    graph: FakeGraph, gateways: ProviderGateways
) -> None:
    data = b"\x89PNG" + bytes(range(256)) * 1000
    graph.media["1003383421387256"] = ("image/png", data)
    gateway = gateways.for_channel(whatsapp_channel(BOX, graph.base_url))
    async with gateway.open_media("1003383421387256") as media:
        assert media.content_type == "image/png" and media.size == len(data)
        assert media.sha256 == hashlib.sha256(data).hexdigest()
        received = b"".join([chunk async for chunk in media.chunks])
    assert received == data
    assert graph.tokens_seen("download") == [TOKEN]


async def test_media_download_refused(graph: FakeGraph, gateways: ProviderGateways) -> None:
    graph.media["m1"] = ("image/png", b"x")
    graph.fail("download", 190)
    gateway = gateways.for_channel(whatsapp_channel(BOX, graph.base_url))
    with pytest.raises(ChannelTokenInvalid):
        async with gateway.open_media("m1"):
            pass
    with pytest.raises(ChannelPermanentFailure) as missing:
        async with gateway.open_media("gone"):
            pass
    assert missing.value.provider_code == 100


async def test_templates_list_every_page_create_and_delete(
    graph: FakeGraph, gateways: ProviderGateways
) -> None:
    graph.templates[WABA_ID] = [
        {"id": str(i), "name": f"t{i}", "language": "en_US", "status": "APPROVED",
         "category": "UTILITY", "components": [{"type": "BODY", "text": "Hi {{1}}"}],
         "quality_score": {"score": "GREEN"}}
        for i in range(130)
    ]  # fmt: skip
    gateway = gateways.for_channel(whatsapp_channel(BOX, graph.base_url))
    found = await gateway.list_templates()
    assert [t.external_id for t in found] == [str(i) for i in range(130)]
    assert found[0].quality == "GREEN" and found[0].components[0]["text"] == "Hi {{1}}"
    assert graph.calls("list_templates") == 2
    submitted = await gateway.create_template(
        TemplateDraft(
            name="welcome",
            language="en_US",
            category="MARKETING",
            components=[{"type": "BODY", "text": "Welcome!"}],
        )
    )
    assert submitted.status == "PENDING" and submitted.external_id
    assert graph.requests[-1].body["name"] == "welcome"
    await gateway.delete_template("welcome", submitted.external_id)
    deleted = graph.requests[-1]
    assert deleted.method == "DELETE" and deleted.path == f"/v26.0/{WABA_ID}/message_templates"
    assert all(t["name"] != "welcome" for t in graph.templates[WABA_ID])
    with pytest.raises(ChannelPermanentFailure) as refused:
        await gateway.delete_template("welcome", submitted.external_id)
    assert refused.value.provider_code == 100
    assert refused.value.details == "No template named welcome was found."


@pytest.mark.parametrize(
    ("code", "error", "retry_after"),
    [
        (130429, ChannelRateLimited, 1.0),
        (131056, ChannelRateLimited, 6.0),
        (131000, ChannelTransientFailure, None),
        (190, ChannelTokenInvalid, None),
    ],
)
async def test_graph_errors_map_to_channel_errors(
    graph: FakeGraph,
    gateways: ProviderGateways,
    code: int,
    error: type[Exception],
    retry_after: float | None,
) -> None:
    graph.fail("send", code)
    gateway = gateways.for_channel(whatsapp_channel(BOX, graph.base_url))
    with pytest.raises(error) as raised:
        await gateway.send(text())
    assert getattr(raised.value, "provider_code", None) == code
    if retry_after is not None:
        assert isinstance(raised.value, ChannelRateLimited)
        assert raised.value.retry_after == retry_after
    assert TOKEN not in str(raised.value)
    assert (await gateway.send(text())).external_id  # the next call goes through


@pytest.mark.parametrize("code", [131047, 131026, 131049, 131050, 131051, 100])
async def test_permanent_codes_keep_meta_code_and_details(
    graph: FakeGraph, gateways: ProviderGateways, code: int
) -> None:
    graph.fail("send", code, details="more about it")
    gateway = gateways.for_channel(whatsapp_channel(BOX, graph.base_url))
    with pytest.raises(ChannelPermanentFailure) as raised:
        await gateway.send(text())
    failure = raised.value
    assert type(failure) is ChannelPermanentFailure
    assert failure.provider_code == code and failure.details == "more about it"
    assert failure.provider_title


async def test_error_injection_counts_attempts(
    graph: FakeGraph, gateways: ProviderGateways
) -> None:
    graph.fail("send", 130429, times=3)
    gateway = gateways.for_channel(whatsapp_channel(BOX, graph.base_url))
    for _ in range(3):
        with pytest.raises(ChannelRateLimited):
            await gateway.send(text())
    await gateway.send(text())
    assert graph.calls("send") == 4 and graph.failures_served == 3


async def test_one_client_per_token_replaced_on_rotation(
    graph: FakeGraph, gateways: ProviderGateways
) -> None:
    channel = whatsapp_channel(BOX, graph.base_url)
    first = gateways.for_channel(channel)
    await first.send(text())
    again = gateways.for_channel(channel)
    await again.send(text())
    assert gateways.cached_client_count() == 1
    rotated = whatsapp_channel(BOX, graph.base_url, token=OTHER_TOKEN)
    await gateways.for_channel(rotated).send(text())
    assert graph.tokens_seen("send") == [TOKEN, TOKEN, OTHER_TOKEN]
    assert gateways.cached_client_count() == 1
    with pytest.raises(ChannelTransientFailure):  # the replaced client was closed
        await first.send(text())
    gateways.forget("ch1")
    assert gateways.cached_client_count() == 0


async def test_a_send_without_an_answer_is_an_unknown_outcome_one_never_sent_is_transient(
    graph: FakeGraph,
) -> None:
    registry = ProviderGateways(BOX, ClientOptions(timeout_seconds=0.5))
    try:
        graph.delay_seconds = 2.0  # the request arrives; the answer comes after the timeout
        with pytest.raises(ChannelOutcomeUnknown):
            await registry.for_channel(whatsapp_channel(BOX, graph.base_url)).send(text())
        assert graph.calls("send") == 1
        nowhere = whatsapp_channel(BOX, f"http://127.0.0.1:{free_port()}", channel_id="ch2")
        with pytest.raises(ChannelTransientFailure) as refused:  # no connection: not sent
            await registry.for_channel(nowhere).send(text())
        assert not isinstance(refused.value, ChannelOutcomeUnknown)
    finally:
        await registry.close()
