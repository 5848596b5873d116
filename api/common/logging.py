"""Logging: colour lines in development, JSON lines in production.

Every record carries `request_id` and `tenant_id` from the context. Never pass secrets,
tokens, passwords or message bodies to a logger. What an exception says is logged with
its traceback, and pydantic's validation errors quote the value they refused
(`input_value=...`: a customer's message, a phone number): every line hides those.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import colorlog
from pythonjsonlogger.json import JsonFormatter

from api.common.hidden_inputs import without_inputs
from api.common.request_context import current_request_id
from api.domain.tenancy import current_tenant_or_none

_CONSOLE_FORMAT = (
    "%(log_color)s%(levelname)-8s%(reset)s %(asctime)s %(name)s "
    "[req=%(request_id)s tenant=%(tenant_id)s] %(message)s"
)
_JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(tenant_id)s"


class ContextFilter(logging.Filter):
    """Adds the request id and tenant id in context to every record; a record that names
    its tenant (`extra={"tenant_id": ...}`, as the access line does, written after the
    request's tenant context ended) keeps it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        if getattr(record, "tenant_id", None) is None:
            record.tenant_id = current_tenant_or_none() or "-"
        return True


def iso_timestamp(created: float) -> str:
    """A record's time in ISO 8601, UTC, with its zone: `2026-12-06T11:40:00.123+00:00`."""
    return datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds")


class IsoJsonFormatter(JsonFormatter):
    """JSON lines whose `asctime` is ISO 8601 with the zone (log stores parse it as is);
    refused values hidden (`without_inputs`)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        return iso_timestamp(record.created)

    def format(self, record: logging.LogRecord) -> str:
        return without_inputs(super().format(record))


class ConsoleFormatter(colorlog.ColoredFormatter):
    """Colour lines; refused values hidden (`without_inputs`)."""

    def format(self, record: logging.LogRecord) -> str:
        return without_inputs(super().format(record))


def configure_logging(*, level: str = "INFO", json: bool = False) -> None:
    """Send every log line (ours and the libraries') through one handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if json:
        handler.setFormatter(
            IsoJsonFormatter(_JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger"})
        )
    else:
        handler.setFormatter(ConsoleFormatter(_CONSOLE_FORMAT, stream=sys.stderr))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # Parley writes its own access line (with request and tenant ids).
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("pymongo").setLevel(logging.WARNING)
    # httpx logs every request's URL at INFO, and Telegram's carry the bot token; the
    # Telegram client logs its Bot API URL (token included) at DEBUG.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("telegram").setLevel(logging.WARNING)
