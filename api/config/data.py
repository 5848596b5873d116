"""Where the data lives: MongoDB (`MONGO_*`) and Redis (`REDIS_*`)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from api.config.base import env_config


class MongoSettings(BaseSettings):
    model_config = env_config("MONGO_")

    uri: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    db_name: str = "parley"
    server_selection_timeout_ms: int = Field(default=3000, ge=100)
    connect_timeout_ms: int = Field(default=3000, ge=100)
    socket_timeout_ms: int = Field(default=10000, ge=100)
    max_pool_size: int = Field(default=100, ge=1)
    startup_timeout_seconds: float = Field(default=30.0, ge=0)
    # What an acknowledged write means: see the README ("Durability").
    write_concern: str = "majority"
    write_journal: bool = True
    # `local` by default: what every driver reads with, and what a standalone server (the
    # compose file's) answers; a replica set may set `majority`.
    read_concern: Literal["local", "available", "majority", "linearizable"] = "local"
    # Off when the indexes are known to exist (tests start hundreds of apps on one database).
    create_indexes: bool = True

    @field_validator("write_concern")
    @classmethod
    def _known_write_concern(cls, value: str) -> str:
        value = value.strip()
        if value != "majority" and not (value.isdigit() and int(value) >= 1):
            raise ValueError("MONGO_WRITE_CONCERN is `majority` or a number of nodes (1 or more)")
        return value

    @property
    def w(self) -> str | int:
        """The write concern's `w` as the driver takes it."""
        return int(self.write_concern) if self.write_concern.isdigit() else self.write_concern


class RedisSettings(BaseSettings):
    model_config = env_config("REDIS_")

    url: str | None = None
    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    password: SecretStr | None = None
    socket_timeout_seconds: float = Field(default=2.0, gt=0)
    max_connections: int = Field(default=100, ge=1)

    @property
    def resolved_url(self) -> str:
        """`REDIS_URL` when given, else one built from `REDIS_HOST`/`REDIS_PORT`."""
        if self.url:
            return self.url
        auth = ""
        if self.password is not None:
            auth = f":{quote(self.password.get_secret_value(), safe='')}@"
        return f"redis://{auth}{self.host}:{self.port}/{self.db}"
