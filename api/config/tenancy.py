"""Tenancy: how a request names its tenant, and the default tenant."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from api.config.base import env_config
from api.domain.tenancy import TenancyStrategy


class TenancySettings(BaseSettings):
    model_config = env_config()

    multi_tenancy_strategy: TenancyStrategy = TenancyStrategy.HEADER
    host_main_domain: str = "localhost"
    default_tenant_name: str = "Default"
    default_tenant_subdomain: str = "default"
    tenant_cache_ttl_seconds: float = Field(default=5.0, ge=0)

    @field_validator("host_main_domain")
    @classmethod
    def _normalise_domain(cls, value: str) -> str:
        return value.strip().lower().split(":", 1)[0].rstrip(".")
