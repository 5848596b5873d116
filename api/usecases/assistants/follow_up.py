"""Idle bot conversations: one follow-up, then resolved (the periodic job, all tenants).

A reply of the assistant sets the conversation's alarm `ASSISTANT_FOLLOW_UP_IDLE_MINUTES`
ahead (the customer writing again moves it: the next reply sets it anew); a handoff
drops it. When it is due and the bot still handles the conversation:
- `follow_up`: the assistant's follow-up is queued as a `bot` message: its `message`
  inside the customer service window, its approved template outside it (none
  configured for the case: nothing is sent); once per idle period (ledger key
  `follow_up:<conversation>:<last inbound>`). The alarm moves to `resolve`, as far ahead.
- `resolve`: the conversation is resolved (audited `conversation.resolved`, no actor;
  pushed to agents) and counted as resolved by the assistant.
Each alarm is taken by one run only (a conditional delete), so two beats never double
a follow-up. Returns how many conversations were handled.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from api.domain.ai.assistant_runs import (
    DueFollowUp,
    FollowUpAlarms,
    FollowUpStage,
    Outcome,
    ReplyLedger,
    RunRecord,
)
from api.domain.ai.assistants import Assistant, AssistantRepository
from api.domain.clock import Clock
from api.domain.messaging.channels import has_service_window
from api.domain.messaging.content import TemplateContent, TextContent
from api.domain.messaging.conversations import (
    Conversation,
    ConversationRepository,
    ConversationStatus,
    HandledBy,
)
from api.domain.messaging.messages import MessageSender, SenderType
from api.domain.messaging.outbound import OutboundDraft
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.assistants.brain import AssistantPolicy
from api.usecases.kernel.clock import stored_time
from api.usecases.messaging.inbox_actions import InboxChangeLog
from api.usecases.messaging.queue_outbound_message import QueueOutboundMessage

log = logging.getLogger(__name__)
FOLLOW_UP_JOB = "parley.assistants.follow_up"


def follow_up_draft(
    assistant: Assistant | None, conversation: Conversation, now: datetime
) -> OutboundDraft | None:
    """The follow-up this conversation gets now: text in the window, template outside."""
    follow = assistant.follow_up if assistant else None
    if follow is None or conversation.id is None:
        return None
    window_open = not has_service_window(conversation.channel_type) or (
        conversation.window_expires_at is not None and conversation.window_expires_at > now
    )
    if window_open and follow.message:
        return OutboundDraft(
            conversation_id=conversation.id, content=TextContent(body=follow.message[:4096])
        )
    if follow.template_name and follow.template_language:
        return OutboundDraft(
            conversation_id=conversation.id,
            content=TemplateContent(name=follow.template_name, language=follow.template_language),
        )
    return None


class FollowUpIdleConversations:
    def __init__(
        self,
        alarms: FollowUpAlarms,
        conversations: ConversationRepository,
        assistants: AssistantRepository,
        ledger: ReplyLedger,
        queue: QueueOutboundMessage,
        changes: InboxChangeLog,
        clock: Clock,
        policy: AssistantPolicy,
    ) -> None:
        self._alarms = alarms
        self._conversations = conversations
        self._assistants = assistants
        self._ledger = ledger
        self._queue = queue
        self._changes = changes
        self._clock = clock
        self._policy = policy

    async def execute(self) -> int:
        now = self._clock.now()
        handled = 0
        for alarm in await self._alarms.due(now, self._policy.follow_up_batch):
            with tenant_context(TenantId(alarm.tenant_id)):
                if not await self._alarms.take(alarm):
                    continue  # another run has it
                try:
                    handled += await self._one(alarm, now)
                except Exception:  # one conversation's failure does not stop the others
                    log.exception("follow-up of conversation %s failed", alarm.conversation_id)
        return handled

    async def _one(self, alarm: DueFollowUp, now: datetime) -> int:
        conversation = await self._conversations.get(alarm.conversation_id)
        if (
            conversation is None
            or conversation.id is None
            or conversation.handled_by is not HandledBy.BOT
            or conversation.status is ConversationStatus.RESOLVED
        ):
            return 0
        if alarm.stage is FollowUpStage.RESOLVE:
            return await self._resolve(alarm, conversation, now)
        since = conversation.last_inbound_at.isoformat() if conversation.last_inbound_at else "-"
        key = f"follow_up:{conversation.id}:{since}"
        if not await self._ledger.claim(key, now=now, until=now + timedelta(minutes=5)):
            return 0
        try:
            draft = follow_up_draft(
                await self._assistants.get(alarm.assistant_id), conversation, now
            )
            sent = None
            if draft is not None:
                sent = await self._queue.execute(
                    draft, MessageSender(type=SenderType.BOT, id=alarm.assistant_id)
                )
        except BaseException:
            await self._ledger.release(key)
            raise
        await self._alarms.schedule(
            conversation.id, alarm.assistant_id, FollowUpStage.RESOLVE,
            now + timedelta(minutes=self._policy.follow_up_idle_minutes),
        )  # fmt: skip
        await self._ledger.finish(
            RunRecord(
                key=key, assistant_id=alarm.assistant_id, conversation_id=conversation.id,
                outcome=Outcome.FOLLOWED_UP, finished_at=now,
                reply_message_id=sent.message.id if sent else None,
            )
        )  # fmt: skip
        return 1

    async def _resolve(self, alarm: DueFollowUp, before: Conversation, now: datetime) -> int:
        assert before.id is not None  # noqa: S101 - stored
        after = await self._conversations.resolve(before.id, at=stored_time(now), by=None)
        if after is None:
            return 0
        await self._changes.changed("conversation.resolved", before, after, actor=None)
        await self._ledger.finish(
            RunRecord(
                key=f"resolve:{before.id}", assistant_id=alarm.assistant_id,
                conversation_id=before.id, outcome=Outcome.RESOLVED, finished_at=now,
            )
        )  # fmt: skip
        return 1
