"""Route lookup without walking every router: a literal-prefix guard on each included router.

FastAPI matches a request against the app's routes in order, and an included router against
each of its routes in turn, with bookkeeping in the request's scope around every route (~1.3 µs
a route on our machines, the regex itself a few percent of it): `POST /api/v1/ai/ask` was
compared with the ~71 routes included before it (~0.1 ms of CPU an ask), an unknown path with
all ~300 (~0.4 ms), the matched router walked once more to hand the request over.

Every route's pattern is anchored at the start and begins with its literal part (its path
as included, up to the first `{`), so a path that starts with none of a router's literal
parts cannot match any of its routes, fully or partly (another method, 405), for any
method or scope type (HTTP or WebSocket). `guard_routes` gives each top-level included
router whose routes are all of the standard kinds (FastAPI's and Starlette's routes,
WebSocket routes, mounts) a `matches` that answers "no match" for such a path without the
walk, and asks the router otherwise. The routes, their order, the OpenAPI document, the
trailing-slash redirects (matched the same way with the other path), 405s and every answer
stay as they were: a guarded router answers exactly what it answered before, sooner when it
cannot match. A router whose routes change afterwards (FastAPI counts the changes) has its
guard worked out again before it is used. Nothing here builds a router's routes (FastAPI
builds them when a request first walks a router): only the routes' paths are read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette._utils import get_route_path  # what every route matches: the path past root_path
from starlette.routing import BaseRoute, Match, Mount, Route, WebSocketRoute
from starlette.types import Scope

# The route kinds whose match is their anchored path pattern (a subclass that matches
# otherwise, or a Host, leaves its router unguarded).
_PATTERN_MATCHES = frozenset(
    kind.matches for kind in (Route, APIRoute, WebSocketRoute, APIWebSocketRoute, Mount)
)

Matches = Callable[[Scope], tuple[Match, Scope]]


def literal_prefixes(route: BaseRoute, outer: str = "") -> tuple[str, ...] | None:
    """What every path `route` can match (fully or partly) starts with, one of these
    texts, included under `outer`; None when its routes' paths cannot tell (no guard)."""
    router = getattr(route, "original_router", None)
    context = getattr(route, "include_context", None)
    if router is not None and context is not None:  # an included router
        found: set[str] = set()
        for child in router.routes:
            parts = literal_prefixes(child, outer + context.prefix)
            if parts is None:
                return None
            found.update(parts)
        # The shortest texts only: a path starting with a longer one starts with them.
        return tuple(sorted(p for p in found if not any(p.startswith(q) for q in found - {p})))
    path = getattr(route, "path", None)
    if type(route).matches not in _PATTERN_MATCHES or not isinstance(path, str):
        return None
    return ((outer + path).split("{", 1)[0],)


def _prefixes_of(route: Any) -> tuple[str, ...] | None:
    """The guard's texts for a top-level included router; None (no guard) when it holds
    included routers (their changes are counted apart from its own) or has no route."""
    if any(hasattr(child, "original_router") for child in route.original_router.routes):
        return None
    return literal_prefixes(route) or None


def _guarded(route: Any, unguarded: Matches) -> Matches:
    router = route.original_router
    version = router._get_routes_version()
    prefixes = _prefixes_of(route)

    def matches(scope: Scope) -> tuple[Match, Scope]:
        nonlocal version, prefixes
        if router._routes_version != version:  # a route added or removed since
            version, prefixes = router._get_routes_version(), _prefixes_of(route)
        if prefixes is not None and not get_route_path(scope).startswith(prefixes):
            return Match.NONE, {}
        return unguarded(scope)

    return matches


def guard_routes(app: FastAPI) -> int:
    """Guard the app's top-level included routers (call it once every router is included);
    returns how many were guarded. A router holding included routers of its own is left as
    it is (its version would have to be read through every level on each match)."""
    guarded = 0
    route: Any
    for route in app.router.routes:
        if not hasattr(route, "original_router") or "matches" in vars(route):
            continue
        if _prefixes_of(route) is None:
            continue
        route.matches = _guarded(route, route.matches)
        guarded += 1
    return guarded
