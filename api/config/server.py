"""How Parley is reached: its public URL (`PUBLIC_BASE_URL`) and the reverse proxies whose
forwarded headers it trusts (`FORWARDED_ALLOW_IPS`)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings

from api.config.base import CsvList, env_config, split_csv

DEV_PUBLIC_BASE_URL = "http://127.0.0.1:8000"


class ServerSettings(BaseSettings):
    """The public URL and the trusted proxies; required/checked in production by `Settings`."""

    model_config = env_config()

    public_base_url: str | None = Field(
        default=None,
        # MAIL_PUBLIC_BASE_URL: the old name, still read (deprecated).
        validation_alias=AliasChoices("PUBLIC_BASE_URL", "MAIL_PUBLIC_BASE_URL"),
        description=(
            "The URL clients reach Parley at, base of the links in mail and of local download "
            "links. Required in production; development falls back to http://127.0.0.1:8000."
        ),
    )
    forwarded_allow_ips: CsvList = Field(
        default_factory=list,
        description=(
            "Proxies (IPs or CIDRs) whose X-Forwarded-For/-Proto are trusted; empty: none, "
            "the client address is the TCP peer's."
        ),
    )

    _csv = field_validator("forwarded_allow_ips", mode="before")(split_csv)

    @field_validator("public_base_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = urlsplit(value.strip())
        if url.scheme not in ("http", "https") or not url.netloc or url.query or url.fragment:
            raise ValueError(
                "PUBLIC_BASE_URL must be an absolute http(s) URL without query or fragment, "
                "e.g. https://parley.example.com"
            )
        return value.strip().rstrip("/")

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses_or_networks(cls, values: list[str]) -> list[str]:
        """Each entry an IP or a CIDR, normalised (`10.1.2.3/8` is `10.0.0.0/8`): uvicorn would
        silently never match an entry it cannot parse."""
        normalised = []
        for value in values:
            if value == "*":
                raise ValueError(
                    "FORWARDED_ALLOW_IPS='*' lets every client choose its own address: "
                    "list the proxies' IPs or CIDRs instead"
                )
            try:
                if "/" in value:
                    normalised.append(str(ipaddress.ip_network(value, strict=False)))
                else:
                    normalised.append(str(ipaddress.ip_address(value)))
            except ValueError:
                raise ValueError(
                    f"FORWARDED_ALLOW_IPS: {value!r} is not an IP address or CIDR"
                ) from None
        return normalised
