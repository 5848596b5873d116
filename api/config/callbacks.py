"""`CALLBACK_*` settings of the public callback request form: its rate limits, its body
limit and whom a new request's email reaches."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from api.config.base import env_config


class CallbackSettings(BaseSettings):
    """The public form `POST /public/callback-requests` (see `SubmitCallbackRequest`)."""

    model_config = env_config("CALLBACK_")

    rate_per_ip: int = Field(
        default=5,
        ge=1,
        description="Requests one IP address may post (to any tenant) per its window.",
    )
    ip_window_seconds: int = Field(
        default=600, ge=1, le=86400, description="The per-IP window, in seconds."
    )
    rate_per_tenant: int = Field(
        default=100,
        ge=1,
        description="Requests one tenant accepts (from any address) per its window.",
    )
    tenant_window_seconds: int = Field(
        default=3600, ge=1, le=86400, description="The per-tenant window, in seconds."
    )
    max_body_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        le=1024 * 1024,
        description="Largest body the public form may post (413, before it is parsed).",
    )
    notify_max_recipients: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="A new request's email reaches at most this many users.",
    )
