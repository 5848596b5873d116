"""A plan gate for unit tests of use cases that pass it: every limit unlimited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

from api.domain.plans import LimitName
from api.usecases.kernel.plan_gate import PlanGate, Reservation


class UnlimitedGate:
    """`PlanGate`'s surface with no limit set: nothing is counted."""

    async def limit(self, name: LimitName) -> int | None:
        return None

    async def reserve(
        self, name: LimitName, amount: int, *, least: int | None = None
    ) -> Reservation:
        return Reservation("", 0)

    async def release(self, reservation: Reservation, amount: int | None = None) -> None:
        return None

    async def freed(self, name: LimitName, amount: int) -> None:
        return None

    async def after_tokens(self, day: str) -> None:
        return None

    @asynccontextmanager
    async def admitting(self, name: LimitName) -> AsyncIterator[None]:
        yield


def unlimited_gate() -> PlanGate:
    """An `UnlimitedGate`, typed as the gate the use cases take."""
    return cast(PlanGate, UnlimitedGate())
