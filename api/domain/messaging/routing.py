"""Routing new conversations: auto-assignment's choice of agent (pure rules) and its
ports, and the out-of-hours reply marker.

Choosing, given the online agents that may take conversations and how many unresolved
conversations each holds:
- `round_robin`: agents in a fixed order (by id); the first after the last one assigned,
  wrapping around, that is under capacity;
- `least_busy`: the agent holding the fewest, under capacity; ties go round robin.
Nobody under capacity: the conversation stays unassigned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from api.domain.messaging.inbox_settings import AutoAssign


def rotation(agents: Sequence[str], last: str | None) -> list[str]:
    """The agents sorted by id, starting after `last` (wrapping around)."""
    ordered = sorted(set(agents))
    if last is None:
        return ordered
    after = [a for a in ordered if a > last]
    return after + [a for a in ordered if a <= last]


def choose_agent(
    rule: AutoAssign,
    agents: Sequence[str],
    load: Mapping[str, int],
    capacity: int,
    last: str | None,
) -> str | None:
    """The agent to assign a new conversation to, or None (rule off, nobody available)."""
    if rule is AutoAssign.OFF:
        return None
    available = [a for a in rotation(agents, last) if load.get(a, 0) < capacity]
    if not available:
        return None
    if rule is AutoAssign.ROUND_ROBIN:
        return available[0]
    return min(available, key=lambda a: load.get(a, 0))  # first in rotation among ties


class AssignmentState(Protocol):
    """What auto-assignment shares across processes, per tenant (current tenant)."""

    def exclusive(self) -> AbstractAsyncContextManager[bool]:
        """Hold the tenant's assignment lock for the block: True when held, False when it
        could not be had in time (the caller then assigns nothing). The lock is a lease:
        a holder stalled past it loses it."""
        ...

    async def last_assigned(self) -> str | None:
        """The agent the last auto-assignment chose (round-robin position)."""
        ...

    async def remember(self, agent_id: str) -> None: ...


class OutOfHoursMarks(Protocol):
    """One out-of-hours reply per conversation and closed period, across processes."""

    async def claim(self, conversation_id: str, period: str, ttl_seconds: int) -> bool:
        """True for the first caller for this conversation and period (atomic), False for
        every later one; the mark is forgotten after `ttl_seconds`."""
        ...

    async def release(self, conversation_id: str, period: str) -> None:
        """Forget a claim whose reply could not be queued, so a later message retries."""
        ...
