"""The OpenAPI document the app serves, made once per tenancy setting for the session (a
document is about a second of CPU, and four tests modules read the default one); each
caller gets a copy of its own. It does not depend on where the servers are."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from api.main import create_app
from tests.support.settings import make_settings


def openapi_document(**tenancy: Any) -> dict[str, Any]:
    """The document of an app with these tenancy settings (a copy)."""
    return copy.deepcopy(_document(tuple(sorted(tenancy.items()))))


@cache
def _document(tenancy: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    settings = make_settings("mongodb://unused", "redis://unused/0", "unused", **dict(tenancy))
    document: dict[str, Any] = create_app(settings).openapi()
    return document
