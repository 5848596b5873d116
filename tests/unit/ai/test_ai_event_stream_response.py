"""`EventStreamResponse`: what Starlette's `StreamingResponse` does for an answer (every
batch written, the stream stopped when the client disconnects, the response then ending
normally), without an anyio task group per response under uvicorn's ASGI spec 2.3."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import starlette.responses
from starlette.types import Message

from api.interfaces.http.routers.ai.sse import EventStreamResponse

SPEC_2_3 = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}}


class Client:
    """The ASGI side: what was sent, and a disconnect when the test says so."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.gone = asyncio.Event()
        self.got_body = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            self.got_body.set()

    def bodies(self) -> list[bytes]:
        return [m["body"] for m in self.sent if m["type"] == "http.response.body"]

    async def streaming(self, events: Events) -> asyncio.Task[None]:
        """The response running under spec 2.3, once its first batch was written."""
        response = asyncio.create_task(
            EventStreamResponse(events())(SPEC_2_3, self.receive, self.send)
        )
        await self.got_body.wait()
        return response


class Events:
    """An answer's encoded batches: `batches`, then (with `hold`) waits until cancelled."""

    def __init__(self, batches: list[bytes], hold: bool = False) -> None:
        self.batches, self.hold = batches, hold
        self.cancelled = self.closed = False

    async def __call__(self) -> AsyncIterator[bytes]:
        try:
            for batch in self.batches:
                yield batch
            if self.hold:
                await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        finally:
            self.closed = True


@pytest.fixture
def no_task_group(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused() -> Any:
        raise AssertionError("a task group was made")

    monkeypatch.setattr(starlette.responses, "create_collapsing_task_group", refused)


@pytest.mark.usefixtures("no_task_group")
async def test_every_batch_is_written_then_the_end() -> None:
    client, events = Client(), Events([b"event: meta\n\n", b"event: token\n\n"])
    await EventStreamResponse(events())(SPEC_2_3, client.receive, client.send)
    start = client.sent[0]
    assert start["type"] == "http.response.start" and start["status"] == 200
    assert (b"content-type", b"text/event-stream; charset=utf-8") in start["headers"]
    assert (b"cache-control", b"no-cache") in start["headers"]
    assert (b"x-accel-buffering", b"no") in start["headers"]
    assert client.bodies() == [b"event: meta\n\n", b"event: token\n\n", b""]
    assert client.sent[-1]["more_body"] is False
    assert events.closed and not events.cancelled


@pytest.mark.usefixtures("no_task_group")
async def test_a_disconnect_stops_the_stream_and_the_response_ends_normally() -> None:
    client, events = Client(), Events([b"event: meta\n\n"], hold=True)
    response = await client.streaming(events)
    client.gone.set()
    await asyncio.wait_for(response, 10)  # no CancelledError: ended as Starlette's does
    assert events.cancelled and events.closed
    assert client.bodies() == [b"event: meta\n\n"]  # no end written to a gone client
    assert response.cancelling() == 0


@pytest.mark.usefixtures("no_task_group")
async def test_a_cancellation_from_elsewhere_still_propagates() -> None:
    client, events = Client(), Events([b"event: meta\n\n"], hold=True)
    response = await client.streaming(events)
    response.cancel()  # a server shutting down, not the client going away
    with pytest.raises(asyncio.CancelledError):
        await response
    assert events.cancelled


@pytest.mark.usefixtures("no_task_group")
async def test_a_disconnect_during_a_cancellation_from_elsewhere_still_propagates() -> None:
    client, events = Client(), Events([b"event: meta\n\n"], hold=True)
    response = await client.streaming(events)
    response.cancel()
    client.gone.set()
    with pytest.raises(asyncio.CancelledError):
        await response


async def test_a_spec_2_4_server_gets_starlettes_own_path() -> None:
    client, events = Client(), Events([b"event: token\n\n"])
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}}
    await EventStreamResponse(events())(scope, client.receive, client.send)
    assert client.bodies() == [b"event: token\n\n", b""]
