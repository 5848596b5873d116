"""CORS for the public web-form routes: any origin may post them (pure ASGI).

A company embeds the callback form on its own sites, which Parley does not know, so these
routes answer every origin, without credentials (`Access-Control-Allow-Origin: *`; no
cookie or token is read there). The app's `CORS_ORIGINS` keep governing every other route.

It runs outside the tenant middleware: a preflight (`OPTIONS` with
`Access-Control-Request-Method`) is answered here with 204, before a tenant is resolved
(browsers do not send `X-Tenant-ID` on a preflight). Other answers on these paths, errors
included (404 tenant, 413, 429), get the allow-origin header and expose `Retry-After`.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_AGE_SECONDS = 600
_ANSWER_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"Retry-After, X-Request-ID"),
]
_PREFLIGHT_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"POST, OPTIONS"),
    (b"access-control-allow-headers", b"Content-Type, X-Tenant-ID"),
    (b"access-control-max-age", str(MAX_AGE_SECONDS).encode()),
    (b"vary", b"Origin"),
]
_CORS_PREFIX = b"access-control-"


def _has_header(scope: Scope, wanted: bytes) -> bool:
    return any(name == wanted for name, _ in scope.get("headers", ()))


class PublicCorsMiddleware:
    def __init__(self, app: ASGIApp, *, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and _has_header(scope, b"access-control-request-method"):
            await send(
                {"type": "http.response.start", "status": 204, "headers": _PREFLIGHT_HEADERS}
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_allowed(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Whatever the app-wide CORS layer said is replaced: these routes allow all.
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if not name.lower().startswith(_CORS_PREFIX)
                ]
                message["headers"] = [*headers, *_ANSWER_HEADERS]
            await send(message)

        await self.app(scope, receive, send_allowed)
