"""Inbound media end to end: a received image queues the copy job; the real worker
fetches it from the (fake) Graph API with the channel's token, retrying a transient
failure, stores the bytes in the tenant's storage and links the file to the message."""

from __future__ import annotations

import asyncio
import struct
import time
import zlib
from pathlib import Path

import httpx
import punq
from bson import ObjectId

from api.config import Settings
from api.domain.files.storage import FileRepository
from api.domain.messaging.messages import Message, MessageRepository
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.files.storage import FileDocument
from api.usecases.files.file_store import FileStore
from api.usecases.files.storages import Storages
from api.usecases.messaging.copy_inbound_media import CopyInboundMedia
from api.usecases.messaging.receive_inbound_message import ReceiveInboundMessage
from tests.support.app import AppClient, serve
from tests.support.fake_clamd import EICAR, SIGNATURE, FakeClamd, serve_fake_clamd
from tests.support.fake_graph import TOKEN, FakeGraph, serve_fake_graph
from tests.support.inbox import message_event, stored_channel
from tests.support.settings import make_settings


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def linked(container: punq.Container, tenant_id: str, message_id: str) -> Message:
    messages: MessageRepository = container.resolve(MessageRepository)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with tenant_context(TenantId(tenant_id)):
            message = await messages.get(message_id)
        assert message is not None
        if message.media is not None:
            return message
        await asyncio.sleep(0.2)
    raise AssertionError("the media was not copied in time")


async def test_the_worker_copies_inbound_media_into_storage(
    app_client: tuple[httpx.AsyncClient, Settings], worker: Path
) -> None:
    http, _ = app_client
    assert isinstance(http, AppClient)
    container = http.container
    image = message_event("image")
    assert image.media is not None
    data = png()
    fake = FakeGraph()
    fake.media[image.media.media_id] = ("image/png", data)
    fake.fail("download", 2)  # transient: the job retries
    tenant_id = str(ObjectId())
    async with serve_fake_graph(fake):
        channel = await stored_channel(container, tenant_id, fake.base_url)
        message = await container.resolve(ReceiveInboundMessage).execute(image, channel)
        assert message is not None and message.id is not None and message.media is None
        copied = await linked(container, tenant_id, message.id)
    assert copied.media is not None
    assert copied.media.content_type == "image/png" and copied.media.size == len(data)
    assert copied.media.filename.startswith("image-") and copied.media.filename.endswith(".png")
    assert fake.calls("download") == 2 and set(fake.tokens_seen("download")) == {TOKEN}
    with tenant_context(TenantId(tenant_id)):
        stored = await container.resolve(FileRepository).get(copied.media.file_id)
        assert stored is not None and stored.purpose == "message_media"
        assert stored.owner_id == message.id
        storage = await container.resolve(Storages).for_file(stored)
        read = b"".join([chunk async for chunk in storage.open(stored.key)])
        await container.resolve(FileStore).remove(stored)
    assert read == data


async def test_a_file_the_storage_refuses_is_not_kept_and_the_message_says_why(
    mongo_url: str, redis_url: str, db_name: str, tmp_path: Path
) -> None:
    settings = make_settings(mongo_url, redis_url, db_name)
    settings.storage.local_storage_dir = str(tmp_path / "blobs")
    settings.storage.malware_scanner = "clamd"
    # The copy jobs this test's messages queue go to a broker no worker reads: the copies
    # here are made in this process, under these settings.
    settings.jobs.celery_broker_url = redis_url.rsplit("/", 1)[0] + "/9"
    clamd, graph = FakeClamd(), FakeGraph()
    document = message_event("document")
    assert document.media is not None
    graph.media[document.media.media_id] = ("text/plain", EICAR)
    video = message_event("video")
    assert video.media is not None
    graph.media[video.media.media_id] = ("video/mp4", b"\x7fELF" + b"\0" * 100)  # not a video
    tenant_id = str(ObjectId())
    async with serve_fake_clamd(clamd) as port, serve_fake_graph(graph):
        settings.storage.clamd_port = port
        async with serve(settings) as http:
            container = http.container
            channel = await stored_channel(container, tenant_id, graph.base_url)
            receive = container.resolve(ReceiveInboundMessage)
            copy = container.resolve(CopyInboundMedia)
            refused = {}
            for event, reason in ((document, "malware"), (video, "unsupported_type")):
                message = await receive.execute(event, channel)
                assert message is not None and message.id is not None
                with tenant_context(TenantId(tenant_id)):
                    assert await copy.execute(message.id) is None
                    stored = await container.resolve(MessageRepository).get(message.id)
                assert stored is not None and stored.media is None
                refused[reason] = stored.content["media_refused"]
            files = await FileDocument.find({"tenant_id": tenant_id}).count()
    assert refused["malware"]["reason"] == "malware" and SIGNATURE in refused["malware"]["detail"]
    assert refused["unsupported_type"]["reason"] == "unsupported_type"
    assert clamd.scanned == [EICAR]  # the second was refused by its type before any scan
    assert files == 0 and [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []
