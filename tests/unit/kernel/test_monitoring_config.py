"""Who may read /metrics: the token, and the rule by environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.config import ConfigurationError, load_settings

PRODUCTION = {
    "ENVIRONMENT": "production",
    "JWT_SECRET": "x" * 40,
    "REFRESH_TOKEN_SECRET": "y" * 40,
    "ADMIN_PASSWORD": "pw!",
    "ENCRYPTION_KEY": "aGVsbG8td29ybGQtdGhpcy1pcy0zMi1ieXRlcyEhISE=",
    "PUBLIC_BASE_URL": "https://parley.example.com",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ENVIRONMENT", "METRICS_TOKEN", "METRICS_READ_TIMEOUT_SECONDS", *PRODUCTION):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file here


def production(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)


def test_development_serves_metrics_without_a_token() -> None:
    settings = load_settings()
    assert settings.metrics.metrics_token is None
    assert settings.metrics_served
    assert settings.metrics.metrics_read_timeout_seconds == 1.0


def test_production_serves_metrics_only_with_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch)
    assert not load_settings().metrics_served
    monkeypatch.setenv("METRICS_TOKEN", "t" * 32)
    settings = load_settings()
    assert settings.metrics_served
    assert "t" * 32 not in repr(settings)


@pytest.mark.parametrize("token", ["short-token", "dev-insecure-" + "m" * 32])
def test_production_refuses_a_weak_metrics_token(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    production(monkeypatch)
    monkeypatch.setenv("METRICS_TOKEN", token)
    with pytest.raises(ConfigurationError, match="METRICS_TOKEN must be at least 32") as raised:
        load_settings()
    assert token not in str(raised.value)


def test_an_empty_token_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_TOKEN", "")
    assert load_settings().metrics.metrics_token is None


def test_the_read_timeout_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_READ_TIMEOUT_SECONDS", "0")
    with pytest.raises(ConfigurationError, match="METRICS_READ_TIMEOUT_SECONDS"):
        load_settings()
