"""The id of the request (or job) being served, for logs and error responses."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("parley_request_id", default=None)


def current_request_id() -> str | None:
    return request_id_var.get()


client_ip_var: ContextVar[str | None] = ContextVar("parley_client_ip", default=None)
user_agent_var: ContextVar[str | None] = ContextVar("parley_user_agent", default=None)


def current_client() -> tuple[str | None, str | None]:
    """(IP address, user agent) of the request being served, when known."""
    return client_ip_var.get(), user_agent_var.get()
