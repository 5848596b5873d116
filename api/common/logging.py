"""Logging: colour lines in development, JSON lines in production.

Every record carries `request_id` and `tenant_id` from the context. Never pass secrets,
tokens, passwords or message bodies to a logger.
"""

from __future__ import annotations

import logging
import sys

import colorlog
from pythonjsonlogger.json import JsonFormatter

from api.common.request_context import current_request_id
from api.domain.tenancy import current_tenant_or_none

_CONSOLE_FORMAT = (
    "%(log_color)s%(levelname)-8s%(reset)s %(asctime)s %(name)s "
    "[req=%(request_id)s tenant=%(tenant_id)s] %(message)s"
)
_JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(tenant_id)s"


class ContextFilter(logging.Filter):
    """Adds the request id and tenant id in context to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        record.tenant_id = current_tenant_or_none() or "-"
        return True


def configure_logging(*, level: str = "INFO", json: bool = False) -> None:
    """Send every log line (ours and the libraries') through one handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if json:
        handler.setFormatter(
            JsonFormatter(_JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger"})
        )
    else:
        handler.setFormatter(colorlog.ColoredFormatter(_CONSOLE_FORMAT, stream=sys.stderr))
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
