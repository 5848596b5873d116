"""docker-compose.yml, checked without an engine: one build, a writable data volume where
the image keeps its files, ports on loopback, grace periods long enough, no proxy trust."""

from __future__ import annotations

import pytest

from api.config import JobSettings
from tests.unit.deploy.files import (
    APP_SERVICES,
    at_defaults,
    compose,
    duration_seconds,
    env_values,
    exec_form,
    final_stage,
    service,
)

DATA_VOLUME = "parley-data"


def image_data_dir() -> str:
    """Where the image keeps its files: the folder of its LOCAL_STORAGE_DIR."""
    storage = env_values(final_stage())["LOCAL_STORAGE_DIR"]
    return storage.rsplit("/", 1)[0]


def image_command() -> list[str]:
    [cmd] = [i for i in final_stage() if i.keyword == "CMD"]
    return exec_form(cmd.arguments)


def test_only_the_api_builds_and_every_app_service_runs_that_image() -> None:
    services = compose()["services"]
    assert [name for name, spec in services.items() if "build" in spec] == ["api"]
    assert services["api"]["build"]["dockerfile"] == "Dockerfile"
    images = {at_defaults(services[name]["image"]) for name in APP_SERVICES}
    assert images == {"parley:latest"}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_keep_files_on_the_named_data_volume(name: str) -> None:
    spec = service(name)
    assert f"{DATA_VOLUME}:{image_data_dir()}" in spec["volumes"]
    storage = spec["environment"]["LOCAL_STORAGE_DIR"]
    assert storage == env_values(final_stage())["LOCAL_STORAGE_DIR"]
    assert storage.startswith(image_data_dir() + "/")
    assert DATA_VOLUME in compose()["volumes"]


def test_published_ports_are_on_loopback_unless_asked() -> None:
    published = {
        name: [at_defaults(str(port)) for port in spec.get("ports", [])]
        for name, spec in compose()["services"].items()
    }
    assert published == {
        "mongo": [],
        "redis": [],
        "api": ["127.0.0.1:8000:8000"],
        "worker": [],
        "beat": [],
        "flower": ["127.0.0.1:5555:5555"],
        "ollama": ["127.0.0.1:11434:11434"],
        "azurite": ["127.0.0.1:10000:10000"],
        "clamav": [],  # reached on the compose network only
    }
    # The API's bind address is the one a deployer may open up (a LB on another host).
    assert service("api")["ports"] == ["${API_BIND_ADDRESS:-127.0.0.1}:8000:8000"]


def test_the_api_outlives_uvicorns_graceful_shutdown() -> None:
    command = image_command()
    assert "command" not in service("api")  # the image's command, checked below
    graceful = float(command[command.index("--timeout-graceful-shutdown") + 1])
    assert duration_seconds(service("api")["stop_grace_period"]) >= graceful + 10


def test_a_stopping_worker_may_finish_its_longest_job() -> None:
    limit = JobSettings(_env_file=None).job_time_limit_seconds
    assert duration_seconds(service("worker")["stop_grace_period"]) >= limit + 15


def test_no_server_trusts_forwarded_headers_on_its_own() -> None:
    command = image_command()
    assert command[0] == "uvicorn" and "--no-proxy-headers" in command
    assert "--proxy-headers" not in command and "--forwarded-allow-ips" not in command
    for name, spec in compose()["services"].items():
        text = str(spec.get("command", "")) + str(spec.get("entrypoint", ""))
        assert "forwarded-allow-ips" not in text and "--proxy-headers" not in text, name


def test_compose_refuses_to_start_without_the_secrets() -> None:
    environment = compose()["x-parley-app"]["environment"]
    for name in ("JWT_SECRET", "REFRESH_TOKEN_SECRET", "ADMIN_PASSWORD", "ENCRYPTION_KEY"):
        assert at_defaults(environment[name]) == f"<{name}>", name
    assert at_defaults(environment["ENVIRONMENT"]) == "production"
