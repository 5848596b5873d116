"""CPU per Telegram photo send, 2 MB by bytes vs by file_id (the gateway and the fake Bot API
in one process). Run: PYTHONPATH=. uv run --frozen python bench/telegram_media_reuse.py"""

import asyncio
import os
import time
from typing import Any

import httpx
from telegram import Bot
from telegram.request import HTTPXRequest

from api.domain.messaging.channels import TelegramSettings
from api.domain.messaging.content import MediaContent, MediaKind, OutboundMessage, Recipient
from api.infrastructure.channels.telegram.gateway import TelegramGateway
from tests.support.fake_telegram import BOT_TOKEN, FakeTelegram, serve_fake_telegram

N = 20


async def main() -> None:
    fake = FakeTelegram()
    data = os.urandom(2 * 1024 * 1024)
    async with serve_fake_telegram(fake) as base:
        req = HTTPXRequest(
            connection_pool_size=8, read_timeout=30, write_timeout=30, media_write_timeout=30
        )
        bot = Bot(BOT_TOKEN, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot", request=req)
        files = httpx.AsyncClient()
        gw = TelegramGateway(
            TelegramSettings(bot_id="7000000001", api_base_url=base), bot, files, BOT_TOKEN
        )

        def msg(**src: Any) -> OutboundMessage:
            return OutboundMessage(
                recipient=Recipient(user_id="5001"),
                content=MediaContent(media_kind=MediaKind.IMAGE, caption="Sale", **src),
            )

        first = await gw.send(msg(data=data))
        fid = first.media_id
        for rnd in range(3):
            for label, m in (("bytes", msg(data=data)), ("id", msg(media_id=fid))):
                c0, w0 = time.process_time(), time.perf_counter()
                for _ in range(N):
                    await gw.send(m)
                c1, w1 = time.process_time(), time.perf_counter()
                print(
                    f"round {rnd} {label:5}: {1000 * (c1 - c0) / N:7.2f} ms CPU/send, "
                    f"{1000 * (w1 - w0) / N:7.2f} ms wall/send"
                )
        up = sum(
            len(s.files["photo"].data) for s in fake.calls("sendPhoto") if s.sent_by == "bytes"
        )
        print(
            "uploaded bytes total",
            up,
            "sends by bytes",
            sum(1 for s in fake.calls("sendPhoto") if s.sent_by == "bytes"),
            "by id",
            sum(1 for s in fake.calls("sendPhoto") if s.sent_by == "id"),
        )
        await files.aclose()
        await req.shutdown()


asyncio.run(main())
