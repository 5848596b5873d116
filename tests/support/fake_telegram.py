"""A fake Telegram Bot API speaking the real wire format, for what Parley uses: `getMe`,
`setWebhook`, `deleteWebhook`, `sendMessage`, `sendPhoto`/`sendDocument`/`sendVideo`/
`sendAudio`/`sendVoice`/`sendSticker` (multipart uploads), `sendLocation`, `sendVenue`,
`setMessageReaction`, `answerCallbackQuery`, `getFile` and the file download
(`/file/bot<token>/<path>`).

Requests are `POST /bot<token>/<method>` with form, multipart or JSON parameters (values
that are JSON, like `reply_markup`, decoded); answers are `{"ok": true, "result": ...}`
or `{"ok": false, "error_code": ..., "description": ...}` (and `parameters.retry_after`
on a 429). An unknown token is 401 `Unauthorized`.

`FakeTelegram` is the state shared with the test:

- `bots`: token -> the bot (`id`, `username`...); `files`: file id -> (path, bytes).
- `webhooks`: token -> the `setWebhook` parameters in force (removed by `deleteWebhook`).
- `fail(method, code, times=1, retry_after=None)`: the next `times` calls of `method`
  answer that error (a 429 with `retry_after` carries it in `parameters`).
- `requests`: every call (`Seen`: method, token, params, uploaded files, arrival time);
  `calls(method)` filters them; `Seen.sent_by` tells whether a send carried the file's
  bytes (`"bytes"`) or a `file_id` (`"id"`).

A file sent (uploaded, or by a `file_id` it gave) comes back as Telegram's answer has it:
a photo as `photo`, its sizes (a thumbnail, the full size last), each with a `file_id`;
the other kinds as one object (`document`, `video`...) with its `file_id`. Every file id
given is in `files` (by this bot: a file id of another bot, or one not in `files`, e.g.
after `files.clear()`, is 400 "wrong file identifier/HTTP URL specified", as Telegram's).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.asgi_server import serve_asgi

BOT_TOKEN = "7000000001:AAFakeTokenOfAcmeBot_0123456789abcdef"
OTHER_BOT_TOKEN = "7000000002:AAFakeTokenOfOtherBot_0123456789abcd"
BOT_ID = 7000000001


@dataclass
class Failure:
    code: int
    times: int
    description: str
    retry_after: int | None = None


@dataclass
class Upload:
    filename: str | None
    content_type: str | None
    data: bytes


# the file parameter of each send method, and the answer's field for it
MEDIA_FIELDS = {
    "sendphoto": "photo", "senddocument": "document", "sendvideo": "video",
    "sendaudio": "audio", "sendvoice": "voice", "sendsticker": "sticker",
    "sendanimation": "animation",
}  # fmt: skip
WRONG_FILE_ID = "Bad Request: wrong file identifier/HTTP URL specified"


@dataclass
class Seen:
    method: str
    token: str
    params: dict[str, Any]
    files: dict[str, Upload] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    answer: Any = None  # the `result` of an accepted call (None: refused)

    @property
    def sent_by(self) -> str | None:
        """ "bytes" (an upload) or "id" (a `file_id`) for a file send; else None."""
        name = MEDIA_FIELDS.get(self.method.lower())
        if name is None:
            return None
        return "bytes" if name in self.files else "id" if name in self.params else None


@dataclass
class FakeTelegram:
    bots: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            BOT_TOKEN: {"id": BOT_ID, "is_bot": True, "first_name": "Acme", "username": "acme_bot"},
            OTHER_BOT_TOKEN: {
                "id": 7000000002, "is_bot": True, "first_name": "Other", "username": "other_bot",
            },
        }
    )  # fmt: skip
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    file_owners: dict[str, str] = field(default_factory=dict)  # file id -> bot token
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    base_url: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def fail(
        self,
        method: str,
        code: int,
        *,
        times: int = 1,
        description: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        text = description or (
            f"Too Many Requests: retry after {retry_after}" if code == 429 else "Bad Request"
        )
        self.failures.setdefault(method, []).append(Failure(code, times, text, retry_after))

    def calls(self, method: str) -> list[Seen]:
        return [seen for seen in self.requests if seen.method == method]

    def _failure(self, method: str) -> Response | None:
        queue = self.failures.get(method) or []
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        body: dict[str, Any] = {
            "ok": False, "error_code": failure.code, "description": failure.description,
        }  # fmt: skip
        if failure.retry_after is not None:
            body["parameters"] = {"retry_after": failure.retry_after}
        return JSONResponse(body, status_code=failure.code)


def _decoded(value: str) -> Any:
    if value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


async def _params(request: Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        body = await request.json()
        return (body if isinstance(body, dict) else {}), {}
    params: dict[str, Any] = dict(request.query_params)
    files: dict[str, Upload] = {}
    if kind.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[key] = Upload(value.filename, value.content_type, await value.read())
            else:
                params[key] = _decoded(value)
    return params, files


def _ok(result: Any, seen: Seen | None = None) -> JSONResponse:
    if seen is not None:
        seen.answer = result
    return JSONResponse({"ok": True, "result": result})


def build_app(fake: FakeTelegram) -> Starlette:
    def message(chat_id: Any, **extra: Any) -> dict[str, Any]:
        return {
            "message_id": next(fake._ids), "date": int(time.time()),
            "chat": {"id": int(chat_id), "type": "private"},
            "from": {"id": 1, "is_bot": True, "first_name": "Acme"}, **extra,
        }  # fmt: skip

    def keep(token: str, data: bytes, path: str) -> dict[str, Any]:
        file_id = f"AgAC{next(fake._ids)}{token[:4]}"
        fake.files[file_id] = (path, data)
        fake.file_owners[file_id] = token
        return {"file_id": file_id, "file_unique_id": "u" + file_id, "file_size": len(data)}

    def media_sent(seen: Seen, method: str) -> Response:
        token, params, files = seen.token, seen.params, seen.files
        name = MEDIA_FIELDS[method]
        upload = files.get(name)
        if upload is not None:
            data, filename = upload.data, upload.filename
        else:
            file_id = str(params.get(name) or "")
            if file_id not in fake.files or fake.file_owners.get(file_id, token) != token:
                return JSONResponse(
                    {"ok": False, "error_code": 400, "description": WRONG_FILE_ID},
                    status_code=400,
                )  # fmt: skip
            data, filename = fake.files[file_id][1], None
        number = next(fake._ids)
        sent: Any
        if name == "photo":  # a thumbnail and the full size, as Telegram's sizes
            sent = [
                {**keep(token, data[:16], f"photos/t{number}.jpg"), "width": 90, "height": 90},
                {**keep(token, data, f"photos/f{number}.jpg"), "width": 800, "height": 600},
            ]
        else:
            sent = keep(token, data, f"{name}s/file_{number}")
            if filename:
                sent["file_name"] = filename
        answer = message(params["chat_id"], caption=params.get("caption"), **{name: sent})
        return _ok(answer, seen)

    async def method(request: Request) -> Response:
        token = request.path_params["token"]
        name = request.path_params["method"]
        params, files = await _params(request)
        seen = Seen(name, token, params, files)
        fake.requests.append(seen)
        bot = fake.bots.get(token)
        if bot is None:
            return JSONResponse(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401
            )
        failure = fake._failure(name)
        if failure is not None:
            return failure
        lowered = name.lower()
        if lowered == "getme":
            return _ok(bot)
        if lowered == "setwebhook":
            fake.webhooks[token] = params
            return _ok(True)
        if lowered == "deletewebhook":
            fake.webhooks.pop(token, None)
            return _ok(True)
        if lowered in ("setmessagereaction", "answercallbackquery"):
            return _ok(True)
        if lowered == "getfile":
            found = fake.files.get(str(params.get("file_id")))
            if found is None:
                return JSONResponse(
                    {"ok": False, "error_code": 400,
                     "description": "Bad Request: invalid file_id"}, status_code=400,
                )  # fmt: skip
            path, data = found
            return _ok({
                "file_id": params["file_id"], "file_unique_id": "u" + str(params["file_id"]),
                "file_size": len(data), "file_path": path,
            })  # fmt: skip
        if lowered == "sendmessage":
            return _ok(message(params["chat_id"], text=params.get("text")))
        if lowered in ("sendlocation", "sendvenue"):
            spot = {"latitude": float(params["latitude"]), "longitude": float(params["longitude"])}
            return _ok(message(params["chat_id"], location=spot))
        if lowered in MEDIA_FIELDS:
            return media_sent(seen, lowered)
        return JSONResponse(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status_code=404
        )

    async def download(request: Request) -> Response:
        token = request.path_params["token"]
        path = request.path_params["path"]
        fake.requests.append(Seen("download", token, {"path": path}))
        if token not in fake.bots:
            return Response(status_code=401)
        for stored_path, data in fake.files.values():
            if stored_path == path:
                return Response(data, media_type="application/octet-stream")
        return Response(status_code=404)

    return Starlette(
        routes=[
            Route("/bot{token}/{method}", method, methods=["GET", "POST"]),
            Route("/file/bot{token}/{path:path}", download, methods=["GET"]),
        ]
    )


@asynccontextmanager
async def serve_fake_telegram(fake: FakeTelegram) -> AsyncIterator[str]:
    """Serve `fake` on a free port of 127.0.0.1 in the current event loop; yields its base
    URL (no trailing slash), also kept in `fake.base_url`."""
    async with serve_asgi(build_app(fake), graceful_seconds=1) as url:
        fake.base_url = url
        yield url
