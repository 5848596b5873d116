"""The client's address and scheme behind trusted reverse proxies (`FORWARDED_ALLOW_IPS`).

The one place that decides whom to believe: the server runs with `--no-proxy-headers` (it
never rewrites the client itself) and this middleware, outermost in the app, rewrites the
ASGI `client` and `scheme` from `X-Forwarded-For`/`X-Forwarded-Proto` only when the TCP
peer is a trusted proxy. It is uvicorn's `ProxyHeadersMiddleware`: the client is the
right-most address of `X-Forwarded-For` that is not itself a trusted proxy, so an address a
client writes into the header before the proxy appends the real one is never taken.

With no trusted proxy the middleware is not installed: the client is the TCP peer, and
whatever `X-Forwarded-For` says is ignored (rate limits, lockout and the audit log's `ip`
cannot be chosen by the client).
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


class ForwardedHeadersMiddleware:
    """Trusts `X-Forwarded-For`/`-Proto` from `trusted_proxies` (IPs and CIDRs) only."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: list[str]) -> None:
        if not trusted_proxies or "*" in trusted_proxies:
            raise ValueError("name the trusted proxies (IPs or CIDRs); never '*'")
        # Any: Starlette and uvicorn type the same ASGI callables differently (loose/strict).
        inner: Any = app
        self._proxy: Any = ProxyHeadersMiddleware(inner, trusted_hosts=list(trusted_proxies))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._proxy(scope, receive, send)
