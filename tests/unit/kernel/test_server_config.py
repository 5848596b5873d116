"""PUBLIC_BASE_URL (the old MAIL_PUBLIC_BASE_URL still read, required in production) and
FORWARDED_ALLOW_IPS (only addresses and networks, never `*`)."""

from __future__ import annotations

import pytest

from api.config import ConfigurationError, load_settings
from tests.unit.kernel.test_config import clean_env, production

__all__ = ["clean_env"]  # the autouse fixture: no stray environment, no .env file


def test_development_links_default_to_the_local_api() -> None:
    settings = load_settings()
    assert settings.public_base_url == "http://127.0.0.1:8000"
    assert settings.server.forwarded_allow_ips == []


def test_public_base_url_is_read_under_its_old_name_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIL_PUBLIC_BASE_URL", "https://old.example.com/")
    assert load_settings().public_base_url == "https://old.example.com"
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://new.example.com/parley/")
    assert load_settings().public_base_url == "https://new.example.com/parley"
    monkeypatch.setenv("PUBLIC_BASE_URL", "")  # empty means unset: the old name applies
    assert load_settings().public_base_url == "https://old.example.com"


def test_production_requires_the_public_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch)
    monkeypatch.delenv("PUBLIC_BASE_URL")
    with pytest.raises(ConfigurationError, match="PUBLIC_BASE_URL must be set"):
        load_settings()
    monkeypatch.setenv("MAIL_PUBLIC_BASE_URL", "https://parley.example.com")
    assert load_settings().public_base_url == "https://parley.example.com"


@pytest.mark.parametrize(
    "value", ["parley.example.com", "ftp://parley.example.com", "https://", "https://a.b/?x=1"]
)
def test_a_public_base_url_that_is_no_http_url_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", value)
    with pytest.raises(ConfigurationError, match="PUBLIC_BASE_URL must be an absolute"):
        load_settings()


def test_trusted_proxies_are_addresses_and_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.7, 172.16.5.4/12,,fd00::/8, ::1")
    assert load_settings().server.forwarded_allow_ips == [
        "10.0.0.7",
        "172.16.0.0/12",
        "fd00::/8",
        "::1",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("*", "every client choose its own address"),
        ("10.0.0.1,*", "every client choose its own address"),
        ("proxy.internal", "'proxy.internal' is not an IP address or CIDR"),
        ("10.0.0.0/33", "is not an IP address or CIDR"),
    ],
)
def test_trusting_every_peer_or_a_name_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", value)
    with pytest.raises(ConfigurationError, match=message):
        load_settings()
