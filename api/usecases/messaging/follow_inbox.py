"""Following a tenant's inbox in real time (the agents' socket): live events and the
replay of what a reconnecting socket missed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from api.domain.errors import Forbidden
from api.domain.identity.auth import Principal
from api.domain.messaging.realtime import CursoredEvent, CursorExpired, Deliver, InboxFeed
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission

REPLAY_PAGE = 500


def _tenant_of(principal: Principal) -> str:
    require_permission(principal, Permission.INBOX_READ)
    if principal.tenant_id is None:
        raise Forbidden("The inbox belongs to a tenant: use a tenant's access token.")
    return principal.tenant_id


class FollowInbox:
    """Deliver the caller's tenant's inbox events as they happen (`inbox:read`).

    Rules: the tenant is the caller's (its token's), never one a client names; `deliver`
    is called on the event loop for each event, in order, and must not block. Returns the
    function that stops the delivery.
    """

    def __init__(self, feed: InboxFeed) -> None:
        self._feed = feed

    async def execute(self, principal: Principal, deliver: Deliver) -> Callable[[], None]:
        return await self._feed.listen(_tenant_of(principal), deliver)


class ReplayInbox:
    """The caller's tenant's events after `cursor`, oldest first, in pages (`inbox:read`).

    Rules: at most `max_events` are replayed: a client that missed more is told
    `CursorExpired` (it re-reads over HTTP), as when the cursor is older than what is kept.
    """

    def __init__(self, feed: InboxFeed) -> None:
        self._feed = feed

    async def execute(
        self, principal: Principal, cursor: str, *, max_events: int
    ) -> AsyncIterator[list[CursoredEvent]]:
        tenant_id = _tenant_of(principal)
        after, replayed = cursor, 0
        while True:
            page = await self._feed.replay(tenant_id, after, limit=min(REPLAY_PAGE, max_events + 1))
            replayed += len(page)
            if replayed > max_events:
                raise CursorExpired("Too many events were missed: re-read over HTTP.")
            if page:
                yield page
                after = page[-1].cursor
            if len(page) < REPLAY_PAGE:
                return
