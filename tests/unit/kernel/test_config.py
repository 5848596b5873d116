"""Settings: dev defaults, production refusals naming the variable, derived values."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.config import ConfigurationError, RedisSettings, load_settings
from api.infrastructure.persistence.base.mongo import create_mongo_client
from api.wiring import create_celery

STRONG = "x" * 40
VALID_FERNET_KEY = "aGVsbG8td29ybGQtdGhpcy1pcy0zMi1ieXRlcyEhISE="
STRONG_2 = "y" * 40


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "ENVIRONMENT", "JWT_SECRET", "REFRESH_TOKEN_SECRET", "ADMIN_PASSWORD", "REDIS_URL",
        "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "CORS_ORIGINS", "OLLAMA_MODELS",
        "MULTI_TENANCY_STRATEGY", "HOST_MAIN_DOMAIN", "MONGO_URI", "ENCRYPTION_KEY",
        "PUBLIC_BASE_URL", "MAIL_PUBLIC_BASE_URL", "FORWARDED_ALLOW_IPS",
        "WHATSAPP_GRAPH_BASE_URL", "WHATSAPP_ALLOWED_GRAPH_BASE_URLS",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file here


def production(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    defaults = {
        "JWT_SECRET": STRONG,
        "REFRESH_TOKEN_SECRET": STRONG_2,
        "ADMIN_PASSWORD": "pw!",
        "ENCRYPTION_KEY": VALID_FERNET_KEY,
        "PUBLIC_BASE_URL": "https://parley.example.com",
    }
    for name, value in {**defaults, **values}.items():
        monkeypatch.setenv(name, value)


def test_development_runs_with_dev_defaults() -> None:
    settings = load_settings()
    assert settings.environment.value == "development"
    assert settings.mongo.db_name == "parley"
    assert settings.tenancy.multi_tenancy_strategy.value == "header"
    assert not settings.json_logs


def test_production_with_real_secrets_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch)
    settings = load_settings()
    assert settings.is_production and settings.json_logs


@pytest.mark.parametrize(
    "name", ["JWT_SECRET", "REFRESH_TOKEN_SECRET", "ADMIN_PASSWORD", "ENCRYPTION_KEY"]
)
def test_production_refuses_a_missing_secret_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    production(monkeypatch)
    monkeypatch.delenv(name)
    with pytest.raises(ConfigurationError, match=name):
        load_settings()


def test_production_refuses_short_and_shared_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch, JWT_SECRET="short")
    with pytest.raises(ConfigurationError, match="JWT_SECRET must be at least 32"):
        load_settings()
    production(monkeypatch, JWT_SECRET=STRONG, REFRESH_TOKEN_SECRET=STRONG)
    with pytest.raises(ConfigurationError, match="REFRESH_TOKEN_SECRET must differ"):
        load_settings()


def test_error_messages_never_echo_secret_values(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch, JWT_SECRET="tiny-but-secret")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "tiny-but-secret" not in str(caught.value)


def test_invalid_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULTI_TENANCY_STRATEGY", "cookie")
    with pytest.raises(ConfigurationError, match="MULTI_TENANCY_STRATEGY"):
        load_settings()


def test_redis_url_is_built_from_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_HOST", "cache.internal")
    monkeypatch.setenv("REDIS_PORT", "6390")
    monkeypatch.setenv("REDIS_PASSWORD", "p@ss/word")
    assert RedisSettings().resolved_url == "redis://:p%40ss%2Fword@cache.internal:6390/0"
    monkeypatch.setenv("REDIS_URL", "redis://other:1/2")
    assert RedisSettings().resolved_url == "redis://other:1/2"


def test_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example.com, https://b.example.com")
    monkeypatch.setenv("OLLAMA_MODELS", "llama3.2,qwen2.5")
    settings = load_settings()
    assert settings.security.cors_origins == ["https://a.example.com", "https://b.example.com"]
    assert settings.ai.ollama_models == ["llama3.2", "qwen2.5"]


def test_main_domain_is_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOST_MAIN_DOMAIN", "Example.COM.:443")
    assert load_settings().tenancy.host_main_domain == "example.com"


def test_secrets_do_not_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch)
    assert STRONG not in repr(load_settings())


def test_encryption_key_must_be_a_fernet_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCRYPTION_KEY", "not-a-key")
    with pytest.raises(ConfigurationError, match="ENCRYPTION_KEY must hold Fernet keys") as caught:
        load_settings()
    assert "not-a-key" not in str(caught.value)
    monkeypatch.setenv("ENCRYPTION_KEY", "A" * 43 + "=")
    monkeypatch.setenv("ENCRYPTION_PREVIOUS_KEYS", "B" * 43 + "=, old-secret")
    with pytest.raises(ConfigurationError, match="ENCRYPTION_PREVIOUS_KEYS must hold") as caught:
        load_settings()
    assert "old-secret" not in str(caught.value)
    monkeypatch.setenv("ENCRYPTION_PREVIOUS_KEYS", "B" * 43 + "=, " + "C" * 43 + "=")
    assert load_settings().auth.encryption_previous_keys is not None


def test_beat_runs_redbeat_with_its_lock_in_the_apps_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6379/3")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://broker.internal:6379/1")
    monkeypatch.setenv("MONGO_DB_NAME", "acme")
    for name in ("BEAT_KEY_PREFIX", "BEAT_MAX_INTERVAL_SECONDS", "BEAT_LOCK_TIMEOUT_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    conf = create_celery(load_settings()).conf
    assert conf.beat_scheduler == "redbeat.RedBeatScheduler"
    assert conf.redbeat_redis_url == "redis://cache.internal:6379/3"  # not the broker's
    assert conf.redbeat_key_prefix == "parley:acme:beat:"
    assert conf.redbeat_lock_key == "parley:acme:beat:lock"
    assert (conf.beat_max_loop_interval, conf.redbeat_lock_timeout) == (5.0, 30)
    monkeypatch.setenv("BEAT_KEY_PREFIX", "eu-prod:beat:")
    assert create_celery(load_settings()).conf.redbeat_lock_key == "eu-prod:beat:lock"


def test_the_beat_lock_must_outlive_two_intervals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEAT_MAX_INTERVAL_SECONDS", "10")
    monkeypatch.setenv("BEAT_LOCK_TIMEOUT_SECONDS", "15")
    with pytest.raises(ConfigurationError, match="BEAT_LOCK_TIMEOUT_SECONDS"):
        load_settings()


def test_channels_may_use_only_the_graph_bases_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().whatsapp.channel_graph_base_urls == frozenset(
        {"https://graph.facebook.com"}
    )
    monkeypatch.setenv(
        "WHATSAPP_ALLOWED_GRAPH_BASE_URLS", "https://graph.example.net/, http://10.1.2.3:8080"
    )
    assert load_settings().whatsapp.channel_graph_base_urls == frozenset({
        "https://graph.facebook.com", "https://graph.example.net", "http://10.1.2.3:8080",
    })  # fmt: skip
    monkeypatch.setenv("WHATSAPP_ALLOWED_GRAPH_BASE_URLS", "*")
    assert load_settings().whatsapp.channel_graph_base_urls is None  # development only
    production(monkeypatch)
    with pytest.raises(ConfigurationError, match="WHATSAPP_ALLOWED_GRAPH_BASE_URLS"):
        load_settings()
    monkeypatch.setenv("WHATSAPP_ALLOWED_GRAPH_BASE_URLS", "ftp://graph.example.net")
    with pytest.raises(ConfigurationError, match="ALLOWED_GRAPH_BASE_URLS: 'ftp:"):
        load_settings()


def test_writes_are_majority_and_journaled_unless_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mongo = load_settings().mongo
    assert (mongo.w, mongo.write_journal, mongo.read_concern) == ("majority", True, "local")
    client = create_mongo_client(
        "mongodb://127.0.0.1:1/?directConnection=true",
        server_selection_timeout_ms=100,
        connect_timeout_ms=100,
        socket_timeout_ms=100,
        max_pool_size=1,
        write_concern=mongo.w,
        journal=mongo.write_journal,
        read_concern=mongo.read_concern,
    )
    assert client.write_concern.document == {"w": "majority", "j": True}
    assert client.read_concern.level == "local"
    monkeypatch.setenv("MONGO_WRITE_CONCERN", "2")
    monkeypatch.setenv("MONGO_WRITE_JOURNAL", "false")
    monkeypatch.setenv("MONGO_READ_CONCERN", "majority")
    mongo = load_settings().mongo
    assert (mongo.w, mongo.write_journal, mongo.read_concern) == (2, False, "majority")


@pytest.mark.parametrize(
    ("name", "value"),
    [("MONGO_WRITE_CONCERN", "0"), ("MONGO_WRITE_CONCERN", "most"), ("MONGO_READ_CONCERN", "x")],
)
def test_unknown_concerns_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=name):
        load_settings()
