"""A fake Meta Graph API (WhatsApp Cloud API) speaking the real wire format, for what Parley
uses: the phone number lookup, sending (and mark-as-read / typing), media metadata and
download (bearer token required), and the WABA's templates (list, paged by `after`
cursors; create, refusing a name and language the WABA has; delete by name and
`hsm_id`).

Tests run it in their own event loop with `serve_fake_graph(fake)` and point a channel's
`graph_base_url` at the URL it yields; the benchmark can run it as a process:
`python -m tests.support.fake_graph --port 18500 --delay 0.1`.

`FakeGraph` is the state shared with the test:

- `numbers`: phone_number_id -> profile (`display_phone_number`, `verified_name`,
  `quality_rating`); `tokens`: the bearer tokens accepted (any other: 401, code 190).
- `media`: media id -> (mime type, bytes); `templates`: waba id -> list of templates.
- `fail(endpoint, code, times=1, ...)`: the next `times` calls to `endpoint` (one of
  `ENDPOINTS`) answer Graph's error `code` (status 401 for 190, 500 for 1/2/131000/
  133004, else 400), counted in `failures_served`.
- `requests`: every request seen (`Seen`: endpoint, method, path, token, JSON body);
  `calls(endpoint)` counts them. `delay_seconds` delays every answer; `holds[endpoint]`
  (an `asyncio.Event`) holds that endpoint's answers until it is set; `in_flight` counts
  the requests received and not answered yet.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.asgi_server import serve_asgi

PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
TOKEN = "EAAG-fake-valid-token-0001"
OTHER_TOKEN = "EAAG-fake-valid-token-0002"
ENDPOINTS = (
    "phone", "send", "mark_read", "media", "download", "list_templates", "create_template",
    "delete_template",
)  # fmt: skip
ERROR_MESSAGES: dict[int, str] = {
    190: "Error validating access token: Session has expired.",
    100: "Invalid parameter",
    130429: "Rate limit hit",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    131047: "Re-engagement message",
    131026: "Message undeliverable",
    131049: "This message was not delivered to maintain healthy ecosystem engagement.",
    131050: "Unable to deliver the message. This recipient has chosen to stop receiving "
    "marketing messages on WhatsApp from your business",
    131051: "Unsupported message type",
    131000: "Something went wrong",
    133004: "Server temporarily unavailable",
}


def status_for(code: int) -> int:
    if code == 190:
        return 401
    if code in (1, 2, 131000, 133004):
        return 500
    return 400


def graph_error(
    code: int,
    message: str | None = None,
    details: str | None = None,
    *,
    user: tuple[str, str] | None = None,
    subcode: int | None = None,
) -> JSONResponse:
    """Graph's error body; `user` adds `error_user_title` and `error_user_msg` (what the
    template endpoints explain refusals with)."""
    text = message or ERROR_MESSAGES.get(code, "Graph error")
    body: dict[str, Any] = {
        "message": f"(#{code}) {text}",
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEfGh123",
    }
    if details:
        body["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if user:
        body["error_user_title"], body["error_user_msg"] = user
        body["is_transient"] = False
    if subcode:
        body["error_subcode"] = subcode
    return JSONResponse({"error": body}, status_code=status_for(code))


@dataclass
class Failure:
    code: int
    times: int
    message: str | None = None
    details: str | None = None


@dataclass
class Seen:
    endpoint: str
    method: str
    path: str
    token: str | None
    body: Any
    at: float = field(default_factory=time.monotonic)  # when it arrived


@dataclass
class FakeGraph:
    numbers: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            PHONE_NUMBER_ID: {
                "display_phone_number": "+1 555-010-0199",
                "verified_name": "Acme Support",
                "quality_rating": "GREEN",
            }
        }
    )
    tokens: set[str] = field(default_factory=lambda: {TOKEN, OTHER_TOKEN})
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    templates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    delay_seconds: float = 0.0
    record_requests: bool = True
    requests: list[Seen] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    failures_served: int = 0
    in_flight: int = 0
    holds: dict[str, asyncio.Event] = field(default_factory=dict)
    base_url: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def fail(
        self,
        endpoint: str,
        code: int,
        *,
        times: int = 1,
        message: str | None = None,
        details: str | None = None,
    ) -> None:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}")
        self.failures.setdefault(endpoint, []).append(Failure(code, times, message, details))

    def calls(self, endpoint: str) -> int:
        return sum(1 for seen in self.requests if seen.endpoint == endpoint)

    def tokens_seen(self, endpoint: str) -> list[str | None]:
        return [seen.token for seen in self.requests if seen.endpoint == endpoint]

    def next_id(self) -> int:
        return next(self._ids)

    def injected(self, endpoint: str) -> JSONResponse | None:
        failure = take_failure(self.failures, endpoint)
        if failure is None:
            return None
        self.failures_served += 1
        return graph_error(failure.code, failure.message, failure.details)


def take_failure(failures: dict[str, list[Failure]], endpoint: str) -> Failure | None:
    """The failure queued for `endpoint`'s next call, if any (counted down, dropped once
    served `times` times)."""
    queue = failures.get(endpoint)
    if not queue:
        return None
    failure = queue[0]
    failure.times -= 1
    if failure.times <= 0:
        queue.pop(0)
    return failure


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header.removeprefix("Bearer ").strip() or None if header.startswith("Bearer ") else None


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def build_app(fake: FakeGraph) -> Starlette:
    async def gate(request: Request, endpoint: str) -> tuple[Any, Response | None]:
        body = await _body(request)
        token = _token(request)
        if fake.record_requests:
            fake.requests.append(Seen(endpoint, request.method, request.url.path, token, body))
        if (hold := fake.holds.get(endpoint)) is not None:
            fake.in_flight += 1
            try:
                await hold.wait()
            finally:
                fake.in_flight -= 1
        if fake.delay_seconds:
            fake.in_flight += 1
            try:
                await asyncio.sleep(fake.delay_seconds)
            finally:
                fake.in_flight -= 1
        if (injected := fake.injected(endpoint)) is not None:
            return body, injected
        if token not in fake.tokens:
            return body, graph_error(190, "Invalid OAuth access token - Cannot parse access token")
        return body, None

    async def get_node(request: Request) -> Response:
        node = request.path_params["node"]
        endpoint = "media" if node in fake.media else "phone"
        _, refused = await gate(request, endpoint)
        if refused is not None:
            return refused
        if node in fake.numbers:
            fields = request.query_params.get("fields")
            profile = dict(fake.numbers[node])
            if fields:
                profile = {k: v for k, v in profile.items() if k in fields.split(",")}
            return JSONResponse({**profile, "id": node})
        if node in fake.media:
            mime, data = fake.media[node]
            return JSONResponse(
                {
                    "url": f"{fake.base_url}/download/{node}?hash=abc",
                    "mime_type": mime,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "file_size": len(data),
                    "id": node,
                    "messaging_product": "whatsapp",
                }
            )
        return graph_error(
            100,
            f"Unsupported get request. Object with ID '{node}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation.",
        )

    async def post_messages(request: Request) -> Response:
        raw = await request.body()
        is_read = b'"status"' in raw and b'"read"' in raw
        body, refused = await gate(request, "mark_read" if is_read else "send")
        if refused is not None:
            return refused
        if request.path_params["node"] not in fake.numbers:
            return graph_error(100, "Unsupported post request.")
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return graph_error(100, "The parameter messaging_product is required.")
        if is_read:
            return JSONResponse({"success": True})
        if "type" not in body or not (body.get("to") or body.get("recipient")):
            return graph_error(100, "The parameter to is required.")
        contact: dict[str, Any] = {"input": body.get("to") or body.get("recipient")}
        if body.get("to"):
            contact["wa_id"] = body["to"]
        else:
            contact["user_id"] = body["recipient"]
        wamid = f"wamid.FAKE{fake.next_id():012d}"
        return JSONResponse(
            {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]}
        )

    async def download(request: Request) -> Response:
        _, refused = await gate(request, "download")
        if refused is not None:
            return refused
        media_id = request.path_params["media_id"]
        if media_id not in fake.media:
            return Response(status_code=404)
        mime, data = fake.media[media_id]
        return Response(data, media_type=mime)

    async def templates(request: Request) -> Response:
        waba = request.path_params["node"]
        if request.method == "GET":
            _, refused = await gate(request, "list_templates")
            if refused is not None:
                return refused
            items = fake.templates.get(waba, [])
            limit = int(request.query_params.get("limit", "25"))
            start = int(request.query_params.get("after") or 0)
            page = items[start : start + limit]
            answer: dict[str, Any] = {"data": page, "paging": {"cursors": {}}}
            if page:
                answer["paging"]["cursors"] = {
                    "before": str(start),
                    "after": str(start + len(page)),
                }
            if start + limit < len(items):
                answer["paging"]["next"] = f"{fake.base_url}/next"
            return JSONResponse(answer)
        if request.method == "DELETE":
            return await delete_templates(request, waba)
        body, refused = await gate(request, "create_template")
        if refused is not None:
            return refused
        if not isinstance(body, dict) or not body.get("name") or not body.get("components"):
            return graph_error(100, "Invalid parameter", "name and components are required")
        if any(
            t.get("name") == body["name"] and t.get("language") == body.get("language")
            for t in fake.templates.get(waba, [])
        ):
            return graph_error(
                100, "Invalid parameter", subcode=2388024,
                user=("Content in This Language Already Exists",
                      "There is already content for this template in this language."),
            )  # fmt: skip
        template_id = str(900000000000000 + fake.next_id())
        fake.templates.setdefault(waba, []).append({**body, "id": template_id, "status": "PENDING"})
        return JSONResponse(
            {"id": template_id, "status": "PENDING", "category": body.get("category")}
        )

    async def delete_templates(request: Request, waba: str) -> Response:
        _, refused = await gate(request, "delete_template")
        if refused is not None:
            return refused
        name, hsm_id = request.query_params.get("name"), request.query_params.get("hsm_id")
        if not name:
            return graph_error(100, "The parameter name is required.")
        items = fake.templates.get(waba, [])
        gone = [
            t for t in items if t.get("name") == name and (hsm_id is None or t.get("id") == hsm_id)
        ]
        if not gone:
            return graph_error(
                100, "Invalid parameter", subcode=2593002,
                user=("Message template not found", f"No template named {name} was found."),
            )  # fmt: skip
        fake.templates[waba] = [t for t in items if t not in gone]
        return JSONResponse({"success": True})

    return Starlette(
        routes=[
            Route("/download/{media_id}", download, methods=["GET"]),
            Route("/{version}/{node}/messages", post_messages, methods=["POST"]),
            Route(
                "/{version}/{node}/message_templates", templates, methods=["GET", "POST", "DELETE"]
            ),
            Route("/{version}/{node}", get_node, methods=["GET"]),
        ]
    )


@contextlib.asynccontextmanager
async def serve_fake_graph(fake: FakeGraph) -> AsyncIterator[str]:
    """Serve `fake` on a free port of 127.0.0.1 in the current event loop; yields its base
    URL (no trailing slash), also kept in `fake.base_url` (media download links use it)."""
    async with serve_asgi(build_app(fake), graceful_seconds=1) as url:
        fake.base_url = url
        yield url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.support.fake_graph")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18500)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args(argv)
    fake = FakeGraph(delay_seconds=args.delay, record_requests=False)
    fake.base_url = f"http://{args.host}:{args.port}"
    uvicorn.run(build_app(fake), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
