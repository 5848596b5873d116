"""A conversation's life: resolved, reopened, snoozed until a time, woken when it comes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from api.domain.clock import Clock
from api.domain.errors import Conflict, FieldProblem
from api.domain.identity.auth import Principal
from api.domain.messaging.conversations import (
    Conversation,
    ConversationRepository,
    ConversationStatus,
    SnoozeAlarms,
)
from api.domain.messaging.errors import (
    ConversationResolved,
    SnoozeNotInFuture,
    UnresolvedConversationExists,
)
from api.domain.permissions import Permission
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.kernel.authority import require_permission
from api.usecases.kernel.clock import stored_time
from api.usecases.messaging.inbox_actions import InboxChangeLog, changed_or_current
from api.usecases.messaging.inbox_reads import existing_conversation

log = logging.getLogger(__name__)

MAX_SNOOZE = timedelta(days=365)
WAKE_JOB = "parley.inbox.wake_snoozed"
WAKE_BATCH = 500
WAKE_MAX_BATCHES = 20  # one run wakes at most 10,000; the next run goes on


class ResolveConversation:
    """Resolve a conversation (`inbox:write`): status `resolved`, snooze cleared, when and
    by whom kept (`resolved_at` by the `Clock`, `resolved_by`: the dashboard's resolution
    times and agents' load); it is no longer the contact's unresolved conversation on its
    channel, so the contact's next message opens a new one. Resolving a resolved one
    changes nothing. Audited `conversation.resolved`."""

    def __init__(
        self, conversations: ConversationRepository, log: InboxChangeLog, clock: Clock
    ) -> None:
        self._conversations = conversations
        self._log = log
        self._clock = clock

    async def execute(self, principal: Principal, conversation_id: str) -> Conversation:
        require_permission(principal, Permission.INBOX_WRITE)
        before = await existing_conversation(self._conversations, conversation_id)
        if before.status is ConversationStatus.RESOLVED:
            return before
        resolved = await self._conversations.resolve(
            conversation_id, at=stored_time(self._clock.now()), by=principal.user_id
        )
        after = await changed_or_current(self._conversations, conversation_id, resolved)
        return await self._log.changed("conversation.resolved", before, after, actor=principal)


class ReopenConversation:
    """Reopen a conversation (`inbox:write`): status `open`, snooze cleared. A resolved
    one becomes the contact's unresolved conversation again, unless the contact has
    written since and so has a newer unresolved one on the channel: 409
    `unresolved_conversation_exists` (work in that one). An open one changes nothing.
    Audited `conversation.reopened`."""

    def __init__(self, conversations: ConversationRepository, log: InboxChangeLog) -> None:
        self._conversations = conversations
        self._log = log

    async def execute(self, principal: Principal, conversation_id: str) -> Conversation:
        require_permission(principal, Permission.INBOX_WRITE)
        before = await existing_conversation(self._conversations, conversation_id)
        if before.status is ConversationStatus.OPEN:
            return before
        try:
            reopened = await self._conversations.reopen(conversation_id)
        except Conflict as exc:
            raise UnresolvedConversationExists(
                "The contact has another unresolved conversation on this channel."
            ) from exc
        after = await changed_or_current(self._conversations, conversation_id, reopened)
        return await self._log.changed("conversation.reopened", before, after, actor=principal)


class SnoozeConversation:
    """Snooze an unresolved conversation until a time to come (`inbox:write`): status
    `snoozed`, `snoozed_until` set. The time must be in the future (422
    `snooze_not_in_future`) and within a year (422); a resolved conversation is 409
    `conversation_resolved`. It wakes (status `open`) when the time comes, or at the
    contact's next message. Audited `conversation.snoozed`."""

    def __init__(
        self, conversations: ConversationRepository, log: InboxChangeLog, clock: Clock
    ) -> None:
        self._conversations = conversations
        self._log = log
        self._clock = clock

    async def execute(
        self, principal: Principal, conversation_id: str, until: datetime
    ) -> Conversation:
        require_permission(principal, Permission.INBOX_WRITE)
        until = stored_time(until)
        now = self._clock.now()
        if until <= now:
            raise SnoozeNotInFuture(
                "A conversation is snoozed until a time in the future.",
                [FieldProblem(("until",), "must be in the future")],
            )
        if until > now + MAX_SNOOZE:
            raise SnoozeNotInFuture(
                "A conversation is snoozed for a year at most.",
                [FieldProblem(("until",), "must be within a year")],
            )
        before = await existing_conversation(self._conversations, conversation_id)
        after = await self._conversations.snooze(conversation_id, until)
        if after is None:
            current = await existing_conversation(self._conversations, conversation_id)
            if current.status is ConversationStatus.RESOLVED:
                raise ConversationResolved("A resolved conversation cannot be snoozed.")
            after = current
        return await self._log.changed("conversation.snoozed", before, after, actor=principal)


class WakeSnoozedConversations:
    """Periodic (beat, `SNOOZE_WAKE_INTERVAL_SECONDS`): every snoozed conversation whose
    time has come, in every tenant, is `open` again (snooze cleared), audited
    `conversation.woken` (no actor) and pushed to agents. A conversation woken meanwhile
    (by its contact, an agent) is left as it is. Returns how many were woken."""

    def __init__(
        self,
        alarms: SnoozeAlarms,
        conversations: ConversationRepository,
        log: InboxChangeLog,
        clock: Clock,
    ) -> None:
        self._alarms = alarms
        self._conversations = conversations
        self._log = log
        self._clock = clock

    async def execute(self) -> int:
        now = self._clock.now()
        woken = 0
        for _ in range(WAKE_MAX_BATCHES):
            due = await self._alarms.due(now, WAKE_BATCH)
            moved = 0
            for alarm in due:
                with tenant_context(TenantId(alarm.tenant_id)):
                    before = await self._conversations.get(alarm.conversation_id)
                    after = await self._conversations.wake(alarm.conversation_id, due_by=now)
                    if before is None or after is None:
                        continue
                    await self._log.changed("conversation.woken", before, after, actor=None)
                    moved += 1
            woken += moved
            if len(due) < WAKE_BATCH or moved == 0:
                break
        if woken:
            log.info("woke %d snoozed conversations", woken)
        return woken
