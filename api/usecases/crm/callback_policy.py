"""The callback requests' limits and links, from the settings (`CALLBACK_*`)."""

from __future__ import annotations

from dataclasses import dataclass

NOTIFY_JOB = "parley.crm.notify_callback_request"


@dataclass(frozen=True)
class CallbackPolicy:
    """How often the public form may be used, and whom a new request's email reaches."""

    rate_per_ip: int = 5  # requests per IP address (any tenant) per `ip_window_seconds`
    ip_window_seconds: int = 600
    rate_per_tenant: int = 100  # requests to one tenant (any address) per its window
    tenant_window_seconds: int = 3600
    notify_max_recipients: int = 50  # the new request's email reaches at most this many
    link_base_url: str = ""  # {PUBLIC_BASE_URL}{API prefix}: the email's link
