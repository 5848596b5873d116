"""Request metrics for Prometheus, as one pure ASGI middleware (nothing is buffered: a
streaming response passes through message by message).

- `http_requests_total{method,route,status}` and `http_request_duration_seconds{method,
  route}` (until the response ends: for a stream, its whole life);
- `parley_sse_streams_open{route}`: responses of type `text/event-stream` in progress (the
  AI chat answers), up from the response's start until the stream ends or its client goes.

`route` is the route's template (`/api/v1/users/{user_id}`), never the raw path, so the
number of series stays bounded: requests no route matches share `route="unmatched"`, and
methods outside the standard ones share `method="OTHER"`. A request refused before it
reached its route (an unknown tenant, say) is still labelled with that route's template.
"""

from __future__ import annotations

import re
import time

from fastapi.routing import iter_route_contexts
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from starlette.routing import BaseRoute, Match, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "unmatched"
# Where FastAPI keeps, in the request scope's "fastapi" entry, the route context it routed by.
EFFECTIVE_ROUTE = "effective_route_context"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
EVENT_STREAM = b"text/event-stream"

# No `*_created` series next to every counter and histogram (the process's choice: it
# halves what a scrape carries, and Prometheus derives resets without them).
disable_created_metrics()  # type: ignore[no-untyped-call]


class HttpMetrics:
    """The API process's own metrics, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, memory, fds
        PlatformCollector(registry=self.registry)  # python_info
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time from a request's arrival to the end of its response (a stream: its whole "
            "life), by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.sse_streams = Gauge(
            "parley_sse_streams_open",
            "Server-sent event streams in progress (AI chat answers), by route template.",
            ["route"],
            registry=self.registry,
        )


def _route_path(scope: Scope) -> str:
    """The path the router matches: without the root path (an app mounted under a prefix)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class RouteTemplates:
    """The full template (`/api/v1/users/{user_id}`) of the route a request was for.

    FastAPI keeps included routers nested and builds each one's routes (their dependency
    trees, a few milliseconds a route) when a request first walks through it: the route in
    the scope (`scope["route"]`) is the router's own, its path without the prefixes it was
    included under. A routed request is labelled with the template of the route as
    included, which FastAPI leaves in the scope (the one it routed by). A request that was
    not routed (refused by a middleware first, or matching nothing) is matched as FastAPI
    routes: the first top-level route that matches it, then the templates of that one's
    routes (built by then: the match walked them). Nothing forces every router to be built.
    """

    def __init__(self) -> None:
        # By the top-level route's id (routes define __eq__, no hash).
        self._patterns: dict[int, list[tuple[re.Pattern[str], str, frozenset[str] | None]]] = {}

    def _patterns_of(
        self, route: BaseRoute
    ) -> list[tuple[re.Pattern[str], str, frozenset[str] | None]]:
        patterns = self._patterns.get(id(route))
        if patterns is None:
            patterns = []
            for context in iter_route_contexts([route]):
                template = context.path_format
                if template is None:
                    continue
                methods = getattr(context.original_route, "methods", None)
                regex, _, _ = compile_path(template)
                patterns.append((regex, template, frozenset(methods) if methods else None))
            self._patterns[id(route)] = patterns
        return patterns

    def of(self, scope: Scope) -> str:
        return _routed_template(scope) or self._matched(scope)

    def _matched(self, scope: Scope) -> str:
        path, partial = _route_path(scope), None
        for route in getattr(scope.get("app"), "routes", ()):
            # FastAPI notes in the scope's "fastapi" entry which router it is walking.
            probe = {**scope, "fastapi": {}}
            if route.matches(probe)[0] is Match.NONE:
                continue
            for regex, template, methods in self._patterns_of(route):
                if regex.match(path):
                    if methods is None or scope["method"] in methods:
                        return template
                    partial = partial or template  # the right path, another method (405)
        return partial or UNMATCHED


def _routed_template(scope: Scope) -> str | None:
    """The template of the route FastAPI handed the request to, as included (its effective
    route context), or None: not routed to a FastAPI route."""
    fastapi_scope = scope.get("fastapi")
    context = fastapi_scope.get(EFFECTIVE_ROUTE) if isinstance(fastapi_scope, dict) else None
    if context is None or getattr(context, "original_route", None) is not scope.get("route"):
        return None
    template = getattr(context, "path_format", None)
    return template if isinstance(template, str) else None


def _is_event_stream(message: Message) -> bool:
    for name, value in message.get("headers", ()):
        if name.lower() == b"content-type":
            return bool(value.lower().startswith(EVENT_STREAM))
    return False


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self.templates = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an app that ends without answering: the server answers 500
        stream: str | None = None

        async def send_counting(message: Message) -> None:
            nonlocal status, stream
            if message["type"] == "http.response.start":
                status = message["status"]
                if _is_event_stream(message):
                    stream = self.templates.of(scope)
                    self.metrics.sse_streams.labels(stream).inc()
            await send(message)

        try:
            await self.app(scope, receive, send_counting)
        finally:
            if stream is not None:
                self.metrics.sse_streams.labels(stream).dec()
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            route = self.templates.of(scope)
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.duration.labels(method, route).observe(time.perf_counter() - started)
