"""What every settings group shares: the environment names, the `.env` reading, CSV lists.

Each group reads the variable names Parley's users already know; `env_config(prefix)`
gives every group the same rules (`.env` file, case-insensitive names, empty means
default, unknown variables ignored).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic_settings import NoDecode, SettingsConfigDict

DEV_SECRET_PREFIX = "dev-insecure-"  # noqa: S105 - a marker, refused in production


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


def env_config(prefix: str = "") -> SettingsConfigDict:
    """The reading rules of every settings group, with its variable prefix."""
    return SettingsConfigDict(
        env_prefix=prefix,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,  # `KEY=` in .env means "use the default", not ""
        case_sensitive=False,
    )


def split_csv(value: Any) -> Any:
    """A `before` validator: `"a, b,,c"` becomes `["a", "b", "c"]`; lists pass through."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]
