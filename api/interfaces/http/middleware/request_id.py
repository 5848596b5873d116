"""Request ids, access lines and the last-resort 500, as one pure ASGI middleware.

An incoming `X-Request-ID` is echoed when it is a sane token, else a new id is made. The
id is in context for the whole request (every log line carries it) and on every response.
The access line names the tenant the request was resolved to.
An exception that escapes everything else is logged here and answered with a 500 problem
that carries the request id and no internals.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.common.request_context import client_ip_var, request_id_var, user_agent_var
from api.interfaces.http.errors import internal_error_response
from api.interfaces.http.middleware.tenant import RESOLVED_TENANT
from api.interfaces.http.problems import send_problem

log = logging.getLogger("parley.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
HEADER = b"x-request-id"


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == HEADER:
            candidate = value.decode("latin-1")
            return candidate if _VALID_ID.match(candidate) else None
    return None


def _user_agent(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"user-agent":
            decoded: str = value.decode("latin-1")[:512]
            return decoded
    return None


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        client = scope.get("client")
        ip_token = client_ip_var.set(client[0] if client else None)
        ua_token = user_agent_var.set(_user_agent(scope))
        started = time.perf_counter()
        status = 500
        response_started = False
        raw_id = request_id.encode("latin-1")

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != HEADER]
                headers.append((HEADER, raw_id))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if not response_started:
                await send_problem(send_with_id, internal_error_response())
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            # The tenant context ended with the request: the line names the tenant the
            # tenant middleware resolved (left in the scope), "-" for the platform plane.
            log.info(
                "%s %s %s %.1fms", scope["method"], scope["path"], status, elapsed_ms,
                extra={"tenant_id": scope.get(RESOLVED_TENANT) or "-"},
            )  # fmt: skip
            request_id_var.reset(token)
            client_ip_var.reset(ip_token)
            user_agent_var.reset(ua_token)
