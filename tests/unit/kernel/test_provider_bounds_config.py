"""The bounds on calls to providers a tenant's requests depend on: storage timeouts and
in-flight calls, how long the AI model list waits for a provider, emails at the mail
server at once, and sends at a channel's provider at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from api.config import AiSettings, MailSettings, StorageSettings, load_settings
from api.domain.files.storage import StorageConfig, StorageProvider
from api.infrastructure.storage.factory import DeploymentBlobStorageFactory
from api.infrastructure.storage.local import LocalUrlSigner

NAMES = (
    "STORAGE_CONNECT_TIMEOUT_SECONDS", "STORAGE_READ_TIMEOUT_SECONDS", "STORAGE_MAX_IN_FLIGHT",
    "AI_MODELS_WAIT_SECONDS", "MAIL_MAX_IN_FLIGHT", "MAIL_BUSY_RETRY_SECONDS",
)  # fmt: skip


@pytest.fixture(autouse=True)
def no_send_cap_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEND_CHANNEL_MAX_IN_FLIGHT", raising=False)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file here


def test_the_defaults_are_bounded() -> None:
    storage = StorageSettings()
    assert storage.storage_connect_timeout_seconds == 5.0
    assert storage.storage_read_timeout_seconds == 30.0
    assert storage.storage_max_in_flight == 4
    assert AiSettings().ai_models_wait_seconds == 2.0
    mail = MailSettings()
    assert (mail.max_in_flight, mail.busy_retry_seconds) == (4, 5.0)
    assert load_settings().send_channel_max_in_flight == 4  # below the worker's 8 threads


def test_the_environment_sets_them(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in zip(NAMES, ("1.5", "7", "2", "0.5", "0", "2.5"), strict=True):
        monkeypatch.setenv(name, value)
    storage = StorageSettings()
    assert (storage.storage_connect_timeout_seconds, storage.storage_read_timeout_seconds,
            storage.storage_max_in_flight) == (1.5, 7.0, 2)  # fmt: skip
    assert AiSettings().ai_models_wait_seconds == 0.5
    mail = MailSettings()
    assert (mail.max_in_flight, mail.busy_retry_seconds) == (0, 2.5)  # 0: no cap


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STORAGE_CONNECT_TIMEOUT_SECONDS", "0"),
        ("STORAGE_CONNECT_TIMEOUT_SECONDS", "61"),
        ("STORAGE_READ_TIMEOUT_SECONDS", "0"),
        ("STORAGE_READ_TIMEOUT_SECONDS", "601"),
        ("STORAGE_MAX_IN_FLIGHT", "0"),
        ("STORAGE_MAX_IN_FLIGHT", "65"),
        ("AI_MODELS_WAIT_SECONDS", "0"),
        ("AI_MODELS_WAIT_SECONDS", "61"),
        ("MAIL_MAX_IN_FLIGHT", "-1"),
        ("MAIL_BUSY_RETRY_SECONDS", "0"),
        ("MAIL_BUSY_RETRY_SECONDS", "301"),
    ],
)
def test_out_of_bounds_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    settings = {"AI": AiSettings, "MAIL": MailSettings}.get(name.split("_")[0], StorageSettings)
    with pytest.raises(ValidationError, match=name.lower().removeprefix("mail_")):
        settings()


def test_the_storage_adapters_get_the_bounds() -> None:
    settings = StorageSettings(
        storage_connect_timeout_seconds=1.5, storage_read_timeout_seconds=7,
        storage_max_in_flight=2,
    )  # fmt: skip
    factory = DeploymentBlobStorageFactory(
        settings, local_signer=LocalUrlSigner("k" * 32), local_download_url="/d"
    )
    s3 = factory.for_config(
        StorageConfig(provider=StorageProvider.S3, bucket="files", region="eu-west-1"),
        tenant_id="t1",
    )
    assert vars(s3)["_lane"][-3:] == (1.5, 7.0, 2)  # connect, read, threads
    azure = factory.for_config(
        StorageConfig(provider=StorageProvider.AZURE_BLOB, connection_string="x", container="c"),
        tenant_id="t1",
    )
    assert (vars(azure)["_connection_timeout"], vars(azure)["_read_timeout"]) == (1.5, 7.0)
