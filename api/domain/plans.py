"""Plans and their limits: what a tenant may use (seats, channels, messages per month, AI
tokens per day, storage), and the ports that count usage against them.

A limit of None is unlimited. A tenant without a plan of its own is on the default plan
(the plan flagged `is_default`, else the one `DEFAULT_PLAN` names); without either it is
unlimited. Periods are UTC: messages count per calendar month, AI tokens per day; seats,
channels and storage are what the tenant holds now.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, Field

from api.domain.errors import ParleyError
from api.domain.tenants.tenant import Tenant

MAX_LIMIT = 10**15  # far past any real plan, well within the counters' integers


class LimitName(StrEnum):
    SEATS = "seats"
    CHANNELS = "channels"
    MESSAGES_PER_MONTH = "messages_per_month"
    AI_TOKENS_PER_DAY = "ai_tokens_per_day"
    STORAGE_BYTES = "storage_bytes"


class PlanLimits(BaseModel):
    """Each limit: a count (bytes for storage), or None for unlimited."""

    seats: int | None = Field(default=None, ge=0, le=MAX_LIMIT)
    channels: int | None = Field(default=None, ge=0, le=MAX_LIMIT)
    messages_per_month: int | None = Field(default=None, ge=0, le=MAX_LIMIT)
    ai_tokens_per_day: int | None = Field(default=None, ge=0, le=MAX_LIMIT)
    storage_bytes: int | None = Field(default=None, ge=0, le=MAX_LIMIT)

    def of(self, name: LimitName) -> int | None:
        value: int | None = getattr(self, name.value)
        return value


class Plan(BaseModel):
    id: str | None = None
    name: str = Field(min_length=1, max_length=100)
    limits: PlanLimits = Field(default_factory=PlanLimits)
    is_default: bool = False
    created_at: datetime
    updated_at: datetime


UNLIMITED_PLAN_NAME = "Unlimited"


class PlanLimitReached(ParleyError):
    """The action would take the tenant past one of its plan's limits (402)."""

    code = "plan_limit_reached"
    title = "Plan limit reached"

    def __init__(self, limit: LimitName, allowed: int, detail: str | None = None) -> None:
        self.limit = limit
        self.allowed = allowed
        super().__init__(
            detail
            or f"The plan's limit '{limit.value}' ({allowed}) is reached; "
            "upgrade the plan or free some of it."
        )

    @property
    def extensions(self) -> dict[str, str]:
        return {"limit": self.limit.value, "allowed": str(self.allowed)}


class PlanRepository(Protocol):
    """Platform-level store of plans (plans are not tenant-scoped)."""

    async def list(self, *, skip: int, limit: int) -> tuple[list[Plan], int]: ...

    async def get(self, plan_id: str) -> Plan | None: ...

    async def get_by_name(self, name: str) -> Plan | None: ...

    async def default(self) -> Plan | None:
        """The plan flagged `is_default`, or None."""
        ...

    async def add(self, plan: Plan) -> Plan:
        """Store a new plan; `Conflict` when the name is taken. Flagging it default
        clears the flag on every other plan."""
        ...

    async def update(self, plan_id: str, changes: dict[str, object]) -> Plan | None:
        """Change `name`, `limits`, `is_default` (clearing the flag elsewhere); None when
        there is no such plan; `Conflict` when the name is taken."""
        ...

    async def delete(self, plan_id: str) -> bool: ...


class TenantPlans(Protocol):
    """Which plan tenants are on (the platform's tenant store)."""

    async def set_plan(self, tenant_id: str, plan_id: str | None) -> Tenant | None:
        """Put a tenant on a plan (None: the default); None when it does not exist."""
        ...

    async def count_on_plan(self, plan_id: str) -> int:
        """How many tenants are on this plan."""
        ...


class UsageCounters(Protocol):
    """Atomic counters of usage per tenant, limit and period (in a shared store).

    `seed` gives the figure from the database when the counter is cold (never written,
    expired, or the store was flushed); it is read once and set only if still cold."""

    async def reserve(
        self,
        key: str,
        amount: int,
        *,
        limit: int | None,
        least: int,
        seed: Callable[[], Awaitable[int]],
        ttl_seconds: int,
    ) -> tuple[int, int]:
        """Add up to `amount` (at least `least`) without passing `limit`: (what was added,
        the total after); (0, total) when not even `least` fits."""
        ...

    async def release(self, key: str, amount: int) -> None:
        """Take back `amount` (nothing when the counter is cold: the seed will count)."""
        ...

    async def peek(self, key: str) -> int | None:
        """The counter, or None when cold."""
        ...

    async def first_time(self, key: str, ttl_seconds: int) -> bool:
        """True exactly once per `key` until it expires (a flag, set atomically)."""
        ...

    def lock(self, key: str) -> AbstractAsyncContextManager[None]:
        """Hold a short exclusive lock on `key` (across processes) while the body runs."""
        ...


class UsageSources(Protocol):
    """The current tenant's usage as the database has it (the counters' seeds)."""

    async def seats(self) -> int:
        """Active users."""
        ...

    async def channels(self) -> int:
        """Channels not disconnected."""
        ...

    async def outbound_messages(self, since: datetime, until: datetime) -> int: ...

    async def ai_tokens(self, day: str) -> int: ...

    async def storage_bytes(self) -> int: ...
