"""A fake Meta Graph API for the Messenger Platform (Messenger and Instagram Direct),
speaking the real wire format for what Parley uses: the Page or Instagram account lookup
(`GET /{version}/{id}?fields=...`, each account with its own token), the Send API (`POST
/{version}/{id}/messages`: text, attachments by URL or `attachment_id`, `reply_to`,
`messaging_type` RESPONSE or MESSAGE_TAG with `tag`, `sender_action` react/unreact) and
CDN downloads of inbound attachments (`GET /cdn/{name}`).

`FakeMetaGraph` is the state shared with the test:

- `accounts`: id -> profile (`name`, or `username` for Instagram) and `tokens`: id -> the
  token that account accepts (any other: 401, code 190).
- `closed_windows`: recipient ids whose 24-hour window is closed: a send to one without
  `tag: HUMAN_AGENT` answers code 10 / subcode 2018278, like Meta.
- `send_delay_seconds` holds each send's answer (its mid, `next_mid()`, already given:
  an echo can arrive before the answer, as with Meta); `answer_gate`, while it is an
  event not yet set, holds each send's answer until the test sets it.
- `cdn`: name -> (mime type, bytes), served at `{base_url}/cdn/{name}`.
- `fail(endpoint, code, times=1)`: the next calls to `endpoint` ("profile", "send",
  "cdn") answer Graph's error `code`; `requests` records every request (`Seen`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.asgi_server import serve_asgi
from tests.support.fake_graph import Failure, Seen, _body, _token, take_failure

PAGE_ID = "1029384756102938"
PAGE_TOKEN = "EAAP-fake-page-token-0001"
OTHER_PAGE_ID = "1029384756100001"
OTHER_PAGE_TOKEN = "EAAP-fake-page-token-0002"
IG_ACCOUNT_ID = "17841400000000001"
IG_PAGE_ID = "1029384756109999"
IG_TOKEN = "EAAI-fake-instagram-token-0001"
ENDPOINTS = ("profile", "send", "cdn")
META_ERRORS: dict[int, tuple[int, str]] = {
    190: (401, "Error validating access token: The session has been invalidated."),
    100: (400, "Invalid parameter"),
    10: (400, "This message is sent outside of allowed window."),
    551: (400, "This person isn't available right now."),
    4: (400, "Application request limit reached"),
    613: (400, "Calls to this api have exceeded the rate limit."),
    2: (500, "An unexpected error has occurred. Please retry your request later."),
}


def meta_error(code: int, message: str | None = None, subcode: int | None = None) -> JSONResponse:
    status, text = META_ERRORS.get(code, (400, "Graph error"))
    body: dict[str, Any] = {
        "message": message or text,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AxYzFakeTrace",
    }
    if subcode is not None:
        body["error_subcode"] = subcode
    if code == 2:
        body["is_transient"] = True
    return JSONResponse({"error": body}, status_code=status)


@dataclass
class FakeMetaGraph:
    accounts: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            PAGE_ID: {"name": "Acme Support"},
            OTHER_PAGE_ID: {"name": "Acme Sales"},
            IG_ACCOUNT_ID: {"username": "acme.support", "name": "Acme"},
        }
    )
    tokens: dict[str, str] = field(
        default_factory=lambda: {
            PAGE_ID: PAGE_TOKEN,
            OTHER_PAGE_ID: OTHER_PAGE_TOKEN,
            IG_ACCOUNT_ID: IG_TOKEN,
        }
    )
    closed_windows: set[str] = field(default_factory=set)
    send_delay_seconds: float = 0.0  # how long each send waits before Meta's answer
    answer_gate: asyncio.Event | None = None  # sends answer once it is set
    cdn: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    base_url: str = ""
    issued: int = 0  # mids given so far

    def fail(self, endpoint: str, code: int, *, times: int = 1) -> None:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}")
        self.failures.setdefault(endpoint, []).append(Failure(code, times))

    def sends(self) -> list[dict[str, Any]]:
        return [s.body for s in self.requests if s.endpoint == "send" and isinstance(s.body, dict)]

    def next_mid(self) -> str:
        """The mid the next accepted send will get (what its echo will carry)."""
        return f"m_FAKE{self.issued + 1:012d}"

    def cdn_url(self, name: str) -> str:
        return f"{self.base_url}/cdn/{name}?oh=fake&oe=1"

    def injected(self, endpoint: str) -> JSONResponse | None:
        failure = take_failure(self.failures, endpoint)
        return None if failure is None else meta_error(failure.code)


def build_app(fake: FakeMetaGraph) -> Starlette:
    async def gate(request: Request, endpoint: str) -> tuple[Any, Response | None]:
        body = await _body(request)
        token = _token(request) or request.query_params.get("access_token")
        fake.requests.append(Seen(endpoint, request.method, request.url.path, token, body))
        if (injected := fake.injected(endpoint)) is not None:
            return body, injected
        node = request.path_params.get("node")
        if node is not None and node in fake.tokens and token != fake.tokens[node]:
            return body, meta_error(190, "Invalid OAuth access token - Cannot parse access token")
        return body, None

    async def get_node(request: Request) -> Response:
        _, refused = await gate(request, "profile")
        if refused is not None:
            return refused
        node = request.path_params["node"]
        if node not in fake.accounts:
            return meta_error(
                100,
                f"Unsupported get request. Object with ID '{node}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation.",
                subcode=33,
            )
        fields = (request.query_params.get("fields") or "id,name").split(",")
        profile = {"id": node, **fake.accounts[node]}
        return JSONResponse({k: v for k, v in profile.items() if k in fields or k == "id"})

    async def post_messages(request: Request) -> Response:
        body, refused = await gate(request, "send")
        if refused is not None:
            return refused
        if request.path_params["node"] not in fake.accounts:
            return meta_error(100, "Unsupported post request.", subcode=33)
        if not isinstance(body, dict) or not (body.get("recipient") or {}).get("id"):
            return meta_error(100, "(#100) The parameter recipient is required")
        recipient = str(body["recipient"]["id"])
        if body.get("sender_action"):
            if body["sender_action"] in ("react", "unreact") and not (
                (body.get("payload") or {}).get("message_id")
            ):
                return meta_error(100, "(#100) payload.message_id is required")
            return JSONResponse({"recipient_id": recipient})
        message = body.get("message")
        if not isinstance(message, dict) or not (message.get("text") or message.get("attachment")):
            return meta_error(100, "(#100) Must send either message or sender_action")
        kind = body.get("messaging_type")
        if kind not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            return meta_error(100, "(#100) Param messaging_type must be one of ...")
        if kind == "MESSAGE_TAG" and body.get("tag") != "HUMAN_AGENT":
            return meta_error(100, "(#100) Param tag must be HUMAN_AGENT here")
        if recipient in fake.closed_windows and kind != "MESSAGE_TAG":
            return meta_error(10, subcode=2018278)
        mid = fake.next_mid()
        fake.issued += 1
        if fake.send_delay_seconds:
            await asyncio.sleep(fake.send_delay_seconds)
        if fake.answer_gate is not None:
            await fake.answer_gate.wait()
        return JSONResponse({"recipient_id": recipient, "message_id": mid})

    async def cdn(request: Request) -> Response:
        _, refused = await gate(request, "cdn")
        if refused is not None:
            return refused
        name = request.path_params["name"]
        if name not in fake.cdn:
            return Response("URL signature expired", status_code=403)
        mime, data = fake.cdn[name]
        return Response(data, media_type=mime)

    return Starlette(
        routes=[
            Route("/cdn/{name}", cdn, methods=["GET"]),
            Route("/{version}/{node}/messages", post_messages, methods=["POST"]),
            Route("/{version}/{node}", get_node, methods=["GET"]),
        ]
    )


@contextlib.asynccontextmanager
async def serve_fake_meta_graph(fake: FakeMetaGraph) -> AsyncIterator[str]:
    """Serve `fake` on a free port of 127.0.0.1; yields its base URL (also `fake.base_url`)."""
    async with serve_asgi(build_app(fake), graceful_seconds=1) as url:
        fake.base_url = url
        yield url
