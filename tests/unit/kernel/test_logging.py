"""Log lines: JSON timestamps are ISO 8601 with their zone."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from api.common.logging import configure_logging

ISO_WITH_ZONE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")


@pytest.fixture
def root_logging() -> Iterator[None]:
    """configure_logging replaces the root handlers: put the test run's back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


@pytest.mark.usefixtures("root_logging")
def test_json_lines_carry_an_iso_8601_timestamp_with_zone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(level="INFO", json=True)
    before = datetime.now(UTC)
    logging.getLogger("parley.test").info("hello %s", "world")
    after = datetime.now(UTC)

    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "hello world"
    assert line["level"] == "INFO"
    assert line["logger"] == "parley.test"
    assert line["request_id"] == "-"
    assert line["tenant_id"] == "-"
    assert ISO_WITH_ZONE.match(line["asctime"]), line["asctime"]
    stamp = datetime.fromisoformat(line["asctime"])
    assert stamp.utcoffset() is not None
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= stamp <= after
