"""`.env.example` is copied as is into containers (compose's env_file): nothing it sets may
point a container at itself or away from the image's data directory."""

from __future__ import annotations

import re
import subprocess
import sys

from api.config import AuthSettings
from tests.support.settings import ROOT
from tests.unit.deploy.files import COMPOSE, active_settings, commented_settings


def test_no_active_setting_points_a_container_at_its_own_loopback() -> None:
    loopback = re.compile(r"://(127\.|localhost|\[::1\])")
    assert {k: v for k, v in active_settings().items() if loopback.search(v)} == {}
    assert "OLLAMA_HOST" in commented_settings()


def test_no_active_setting_moves_files_out_of_the_image_data_dir() -> None:
    active = active_settings()
    for name in ("LOCAL_STORAGE_DIR", "MAIL_OUTBOX_DIR"):
        assert name not in active and name in commented_settings(), name


def test_the_public_url_and_trusted_proxies_are_documented() -> None:
    active, readme = active_settings(), (ROOT / "README.md").read_text()
    assert active["PUBLIC_BASE_URL"] == ""  # to fill in; production refuses to start without
    assert "MAIL_PUBLIC_BASE_URL" not in active  # the deprecated name
    assert "FORWARDED_ALLOW_IPS" in commented_settings()
    for name in ("PUBLIC_BASE_URL", "FORWARDED_ALLOW_IPS", "API_BIND_ADDRESS"):
        assert f"`{name}`" in readme, name


def _deployment_section() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme[readme.index("## Deployment") : readme.index("## Benchmarks")]


def test_the_quick_start_names_everything_compose_and_production_require() -> None:
    required = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE.read_text())) | {"PUBLIC_BASE_URL"}
    assert {"ENCRYPTION_KEY", "JWT_SECRET", "FLOWER_PASSWORD"} <= required
    quick_start = _deployment_section().split("```bash", 1)[1].split("```", 1)[0]
    assert {name for name in required if name not in quick_start} == set()


def test_the_quick_starts_key_commands_make_keys_production_accepts() -> None:
    quick_start = _deployment_section().split("```bash", 1)[1].split("```", 1)[0]
    one_liners = re.findall(r"^python3 -c '([^']+)'\s+# (.+)$", quick_start, re.MULTILINE)

    def output_of(purpose: str) -> str:
        [code] = [code for code, comment in one_liners if purpose in comment]
        run = subprocess.run(  # noqa: S603 - our own README's one-liner
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        return run.stdout.strip()

    AuthSettings(_env_file=None, encryption_key=output_of("ENCRYPTION_KEY"))  # a Fernet key
    assert len(output_of("JWT_SECRET")) >= 32
