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
from typing import Any

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
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "unmatched"
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

    FastAPI keeps included routers nested: the route in the scope (`scope["route"]`) is
    the router's own, its path without the prefixes it was included under. The table of
    full templates (FastAPI's `iter_route_contexts`) is built at the first request, when
    every route is in place. A request that was not routed (refused by a middleware
    first, or matching nothing) is matched against the templates.
    """

    def __init__(self) -> None:
        self._by_route: dict[int, str] | None = None  # by id: routes define __eq__, no hash
        self._patterns: list[tuple[re.Pattern[str], str, frozenset[str] | None]] = []

    def _build(self, app: Any) -> dict[int, str]:
        by_route: dict[int, str] = {}
        seen: set[int] = set()
        for context in iter_route_contexts(getattr(app, "routes", ())):
            template = context.path_format
            if template is None:
                continue
            route = context.original_route
            if id(route) in seen:  # included twice, under two prefixes: match the path
                by_route.pop(id(route), None)
            else:
                by_route[id(route)] = template
                seen.add(id(route))
            methods = getattr(route, "methods", None)
            regex, _, _ = compile_path(template)
            self._patterns.append((regex, template, frozenset(methods) if methods else None))
        return by_route

    def of(self, scope: Scope) -> str:
        if self._by_route is None:
            self._by_route = self._build(scope.get("app"))
        routed = self._by_route.get(id(scope.get("route")))
        if routed is not None:
            return routed
        path, partial = _route_path(scope), None
        for regex, template, methods in self._patterns:
            if regex.match(path):
                if methods is None or scope["method"] in methods:
                    return template
                partial = partial or template  # the right path, another method (405)
        return partial or UNMATCHED


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
