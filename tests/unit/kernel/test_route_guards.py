"""Route guards (`api/interfaces/http/route_guards.py`) change no answer: a small app with
every kind of route (path parameters, 405s, trailing-slash redirects, WebSocket routes, a
mount, a host route, a route class that matches its own way, a root path, a route added
after the guards) answers every request exactly as the same app without guards; on
Parley's own app, every top-level route's match (kind, route, parameters) is the same with
and without its guard for the path of every route, its neighbours and other methods and
scope types; and a guarded router that cannot match a path is not walked."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, WebSocket
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.routing import Match, Mount
from starlette.types import Message, Scope

from api.interfaces.http.route_guards import guard_routes, literal_prefixes

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class EverywhereRoute(APIRoute):
    """A route class that matches any path under its own (its router cannot be guarded)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and get_route_path(scope).startswith("/odd"):
            return Match.FULL, {"endpoint": self.endpoint, "path_params": {}, "route": self}
        return super().matches(scope)


async def echo_app(scope: Scope, receive: Any, send: Any) -> None:
    body = f"mounted {scope['path']} {scope.get('root_path', '')}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def small_app() -> FastAPI:
    app = FastAPI()
    items = APIRouter(prefix="/items")

    @items.get("/")
    async def list_items() -> list[str]:
        return ["a"]

    @items.get("/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @items.put("/{item_id}/name")
    async def rename_item(item_id: int) -> dict[str, Any]:
        return {"renamed": item_id}

    things = APIRouter()

    @things.get("/things/{thing_id}")
    async def get_thing(thing_id: str) -> dict[str, str]:
        return {"thing": thing_id}

    @things.get("/other")
    async def other() -> str:
        return "other"

    sockets = APIRouter()

    @sockets.websocket("/ws/echo/{room}")
    async def echo(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(f"{room}:{text}")
        await websocket.close()

    mounted = APIRouter()
    mounted.routes.append(Mount("/static", app=echo_app))
    hosted = APIRouter()
    hosted.host("api.example.com", app=echo_app)
    odd = APIRouter(route_class=EverywhereRoute)

    @odd.get("/odd/fixed")
    async def odd_fixed() -> str:
        return "odd"

    app.include_router(items, prefix="/v1")
    app.include_router(things, prefix="/v1")
    app.include_router(items, prefix="/v2")
    app.include_router(sockets)
    app.include_router(mounted, prefix="/files")
    app.include_router(hosted)
    app.include_router(odd)
    app.state.late = things
    return app


def add_late_route(app: FastAPI) -> None:
    async def late(x: str) -> str:
        return f"late {x}"

    app.state.late.add_api_route("/late/{x}", late, methods=["GET"])


REQUESTS = [
    (method, path)
    for path in (
        "/v1/items/", "/v1/items", "/v1/items/1", "/v1/items/x", "/v1/items/1/", "/v1/items/1/name",
        "/v2/items/2/name", "/v3/items/1", "/v1/things/t", "/v1/things/t/", "/v1/other",
        "/v1/other/", "/v1/late/y", "/files/static/a/b", "/files/static", "/files/static/",
        "/files", "/ws/echo/r", "/odd/fixed", "/odd/anything", "/", "/nowhere",
    )
    for method in METHODS
]  # fmt: skip


async def answers(app: FastAPI, root_path: str = "", host: str = "test") -> list[tuple[Any, ...]]:
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    seen = []
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
        for method, path in REQUESTS:
            response = await client.request(method, root_path + path)
            headers = {k: response.headers.get(k) for k in ("location", "allow", "content-type")}
            seen.append((method, path, response.status_code, headers, response.content))
    return seen


async def socket_messages(app: FastAPI, path: str) -> list[Message]:
    incoming: list[Message] = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hi"},
        {"type": "websocket.disconnect", "code": 1000},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "websocket", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": [(b"host", b"test")], "scheme": "ws",
        "server": ("test", 80), "client": ("127.0.0.1", 1), "subprotocols": [],
        "asgi": {"version": "3.0"},
    }  # fmt: skip
    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("root_path", ["", "/behind"])
async def test_a_guarded_app_answers_every_request_as_before(root_path: str) -> None:
    plain, guarded = small_app(), small_app()
    assert guard_routes(guarded) == 5  # items (twice), things, sockets, mounted
    add_late_route(plain)
    add_late_route(guarded)  # after the guards: its router's guard is worked out again
    expected = await answers(plain, root_path)
    assert await answers(guarded, root_path) == expected
    statuses = {(method, path): status for method, path, status, _, _ in expected}
    # The cases are there: 405, redirects both ways, the mount, the late route, 404s.
    assert statuses["POST", "/v1/items/1"] == 405
    assert statuses["GET", "/v1/items"] == 307 and statuses["GET", "/v1/other/"] == 307
    assert statuses["GET", "/files/static/a/b"] == 200
    assert statuses["GET", "/v1/late/y"] == 200
    assert statuses["GET", "/odd/anything"] == 200
    assert statuses["GET", "/v3/items/1"] == 404


async def test_host_routes_answer_as_before() -> None:
    plain, guarded = small_app(), small_app()
    guard_routes(guarded)
    assert await answers(guarded, host="api.example.com") == await answers(
        plain, host="api.example.com"
    )


@pytest.mark.parametrize("path", ["/ws/echo/room1", "/ws/echo", "/v1/items/1", "/nowhere"])
async def test_websockets_answer_as_before(path: str) -> None:
    expected = await socket_messages(small_app(), path)
    guarded = small_app()
    guard_routes(guarded)
    assert await socket_messages(guarded, path) == expected
    if path == "/ws/echo/room1":
        assert {"type": "websocket.send", "text": "room1:hi"} in expected


async def test_a_router_that_cannot_match_is_not_walked() -> None:
    app = small_app()
    guard_routes(app)
    included: list[Any] = [r for r in app.router.routes if hasattr(r, "original_router")]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/ws/echo/x")).status_code == 404  # a WebSocket route
    # FastAPI builds an included router's routes when a request first walks it.
    walked = [route._effective_candidates_version is not None for route in included]
    # Only the WebSocket routes and the host and odd routers (unguarded) were walked.
    assert walked == [False, False, False, True, False, True, True]


def test_the_literal_prefixes_are_the_shortest_texts_every_match_starts_with() -> None:
    app = small_app()
    prefixes = [literal_prefixes(route) for route in app.router.routes[4:]]
    assert prefixes == [
        ("/v1/items/",), ("/v1/other", "/v1/things/"), ("/v2/items/",), ("/ws/echo/",),
        ("/files/static",), None, None,
    ]  # fmt: skip


def parley_paths(app: FastAPI) -> list[str]:
    """Every route's path with sample parameters, then neighbours: a trailing slash added
    or taken away, shorter and longer paths, other API paths."""
    paths = {"/", "/api", "/api/v1", "/api/v1/", "/api/v1/unknown", "/metricsx", "/docs/"}
    route: Any
    for route in app.router.routes:
        router = getattr(route, "original_router", None)
        children = router.routes if router is not None else [route]
        prefix = route.include_context.prefix if router is not None else ""
        for child in children:
            path = (prefix + getattr(child, "path", "/")).replace("{", "").replace("}", "")
            path = path.replace(":path", "/a/b")
            paths.update({path, path + "/", path.rstrip("/"), path + "/more", path[:-1]})
    return sorted(p for p in paths if p.startswith("/"))


def test_parley_routes_match_as_before_with_their_guards() -> None:
    from api.main import create_app
    from tests.support.settings import make_settings

    # No server is reached: the app is only made.
    app = create_app(make_settings("mongodb://127.0.0.1:9", "redis://127.0.0.1:9/0", "unused"))
    guarded = [route for route in app.router.routes if "matches" in vars(route)]
    assert len(guarded) >= 40  # every top-level router but the platform plane's (nested)
    compared = 0
    for path in parley_paths(app):
        for kind in ("http", "websocket"):
            for method in METHODS if kind == "http" else (None,):
                scope = {"type": kind, "path": path, "root_path": "", "method": method}
                for route in app.router.routes:
                    expected = type(route).matches(route, {**scope, "fastapi": {}})
                    assert route.matches({**scope, "fastapi": {}}) == expected, (path, method)
                    compared += expected[0] is not Match.NONE
    assert compared > 300  # the paths reached their routes
