"""Log lines: JSON timestamps are ISO 8601 with their zone; the values pydantic's
validation errors quote are hidden in every line, traceback included."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ValidationError

from api.common.hidden_inputs import without_inputs
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


class Reply(BaseModel):
    to: int
    text: str


# A customer's data (a traceback's source lines show the call, not the values).
CUSTOMERS = {"to": "call +14155550199", "text": ["my address", "1 Main St"]}


def refused() -> ValidationError:
    try:
        Reply.model_validate(CUSTOMERS)
    except ValidationError as exc:
        return exc
    raise AssertionError("validated")


def test_without_inputs_keeps_the_field_and_rule_and_hides_the_values() -> None:
    text = str(refused())
    assert "+14155550199" in text and "1 Main St" in text  # what pydantic says
    hidden = without_inputs(text)
    assert "+14155550199" not in hidden and "1 Main St" not in hidden
    assert hidden.count("input_value=<hidden>, input_type=") == 2
    assert "to\n  Input should be a valid integer" in hidden and "[type=int_parsing" in hidden
    assert without_inputs("nothing quoted here") == "nothing quoted here"


@pytest.mark.usefixtures("root_logging")
@pytest.mark.parametrize("json_lines", [True, False])
def test_log_lines_hide_what_a_validation_error_quotes(
    capsys: pytest.CaptureFixture[str], json_lines: bool
) -> None:
    configure_logging(level="INFO", json=json_lines)
    error = refused()
    log = logging.getLogger("parley.test")
    log.warning("could not read a reply: %s", error)
    try:
        raise error
    except ValidationError:
        log.exception("the reply failed")
    written = capsys.readouterr().err
    assert "Traceback" in written and "the reply failed" in written
    assert "+14155550199" not in written and "1 Main St" not in written
    assert written.count("input_value=<hidden>") == 4  # twice in the message, twice below
    if json_lines:
        assert [json.loads(line)["level"] for line in written.strip().splitlines()] == [
            "WARNING", "ERROR"
        ]  # fmt: skip
