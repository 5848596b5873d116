"""The plans' settings as the use cases read them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlanPolicy:
    default_plan: str | None = None  # a plan's name or id: tenants without a plan get it
    warn_percent: int = 80  # the owners are warned once a period past this share of a limit
    public_base_url: str = "http://localhost:3000"
