"""`.env.example` is copied as is into containers (compose's env_file): nothing it sets may
point a container at itself or away from the image's data directory."""

from __future__ import annotations

import re

from tests.support.settings import ROOT
from tests.unit.deploy.files import active_settings, commented_settings


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
