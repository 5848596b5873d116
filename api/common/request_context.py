"""The id of the request (or job) being served, for logs and error responses."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("parley_request_id", default=None)


def current_request_id() -> str | None:
    return request_id_var.get()
