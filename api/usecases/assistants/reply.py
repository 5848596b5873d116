"""The assistant answers one inbound message (the `BOT_REPLY_JOB`, current tenant).

Rules, in order:
1. One answer per inbound message: the job claims `reply:<message id>` in the ledger;
   a duplicate (a doubled webhook, a retried or doubled job) finds it claimed or done
   and does nothing. A transient failure releases the claim and is retried; a crashed
   job's claim lapses after `ASSISTANT_CLAIM_SECONDS`. The reply is also queued with
   the idempotency key `assistant-reply:<message id>`, so a retry after the send was
   queued finds that message instead of queueing another.
2. Only a conversation the bot handles (unresolved) is answered, by the enabled
   assistant of its channel; a bot conversation whose channel lost its assistant goes
   to humans (reason `error`).
3. Outside the assistant's business hours: its out-of-hours message, once per
   conversation and closed period; nothing else.
4. Handoff before any model call: an inbound text holding one of the assistant's
   `keywords` (whole words, any case); the assistant's `after_turns` replies reached;
   its own daily tokens (`max_tokens_per_day`) or the tenant's quota used up (`budget`).
5. The model decides (`AssistantBrain`), the typing indicator shown meanwhile (the read
   receipt with typing, best effort): a reply, or a handoff (`request`, `unsure`; an
   unusable answer is `error`).
6. Never over a human: right before sending, the conversation is read again; when an
   agent took it over, was assigned it, or wrote in it since the inbound message, the
   reply is dropped (`suppressed`).
7. The reply is queued as a `bot` message through the one sending path
   (`QueueOutboundMessage`: window, rate limit, retries), and the conversation's
   follow-up alarm is set (`ASSISTANT_FOLLOW_UP_IDLE_MINUTES`).
A handoff hands the conversation to humans (`HandOverToHumans`: open, summary as a
private note, auto-assigned) and drops its follow-up alarm. Every outcome is recorded
in the ledger (the assistant's stats).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from datetime import UTC, datetime, timedelta

from api.domain.ai.assistant_runs import (
    FollowUpAlarms,
    FollowUpStage,
    HandoffReason,
    Outcome,
    ReplyLedger,
    RunRecord,
)
from api.domain.ai.assistants import Assistant, AssistantRepository
from api.domain.ai.errors import ProviderRejected, QuotaExceeded, UnknownModel
from api.domain.ai.values import PromptMessage, Speaker
from api.domain.business_hours import NEVER_OPENS, closed_period
from api.domain.clock import Clock
from api.domain.messaging.content import TextContent
from api.domain.messaging.conversations import (
    Conversation,
    ConversationRepository,
    ConversationStatus,
    HandledBy,
)
from api.domain.messaging.errors import ConversationResolved
from api.domain.messaging.messages import (
    Direction,
    Message,
    MessageRepository,
    MessageSender,
    SenderType,
)
from api.domain.messaging.outbound import OutboundDraft
from api.domain.messaging.routing import OutOfHoursMarks
from api.domain.plans import PlanLimitReached
from api.usecases.assistants.brain import AssistantBrain, AssistantPolicy, Decision
from api.usecases.messaging.bot_handoff import HandOverToHumans
from api.usecases.messaging.mark_conversation_read import SendReadReceipt
from api.usecases.messaging.queue_outbound_message import QueueOutboundMessage

log = logging.getLogger(__name__)
OUT_OF_HOURS_PERIOD = "assistant:"  # marks apart from the inbox's own out-of-hours reply
NEVER_OPENS_MARK_SECONDS = 7 * 24 * 3600
MARK_GRACE_SECONDS = 3600
TAKEOVER_WINDOW = 10  # the latest messages read for an agent's since the inbound one


def reply_key(message_id: str) -> str:
    return f"reply:{message_id}"


def keyword_hit(keywords: list[str], text: str) -> str | None:
    """The first keyword found in `text` as whole words, any case."""
    folded = text.casefold()
    for keyword in keywords:
        word = keyword.strip().casefold()
        if word and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", folded):
            return keyword
    return None


def history_of(messages: list[Message]) -> list[PromptMessage]:
    """The conversation as the model sees it, oldest first (newest-first page in)."""
    prompt: list[PromptMessage] = []
    for message in reversed(messages):
        if message.private:
            continue
        text = message.text or (f"[{message.type}]" if message.type else "")
        if not text:
            continue
        speaker = Speaker.USER if message.direction is Direction.INBOUND else Speaker.ASSISTANT
        prompt.append(PromptMessage(speaker, text))
    return prompt


class AnswerInboundMessage:
    def __init__(
        self,
        messages: MessageRepository,
        conversations: ConversationRepository,
        assistants: AssistantRepository,
        ledger: ReplyLedger,
        alarms: FollowUpAlarms,
        brain: AssistantBrain,
        queue: QueueOutboundMessage,
        hand_over: HandOverToHumans,
        receipts: SendReadReceipt,
        marks: OutOfHoursMarks,
        clock: Clock,
        policy: AssistantPolicy,
    ) -> None:
        self._messages = messages
        self._conversations = conversations
        self._assistants = assistants
        self._ledger = ledger
        self._alarms = alarms
        self._brain = brain
        self._queue = queue
        self._hand_over = hand_over
        self._receipts = receipts
        self._marks = marks
        self._clock = clock
        self._policy = policy

    async def execute(self, message_id: str, *, received_at: float | None = None) -> Outcome | None:
        """The outcome, or None when another job has (or had) this message."""
        inbound = await self._messages.get(message_id)
        if inbound is None or inbound.direction is not Direction.INBOUND or inbound.id is None:
            return None
        now = self._clock.now()
        key = reply_key(inbound.id)
        # The reads the answer needs go with the claim (one round trip's wait, not three).
        claimed, conversation, assistant = await asyncio.gather(
            self._ledger.claim(
                key, now=now, until=now + timedelta(seconds=self._policy.claim_seconds)
            ),
            self._conversations.get(inbound.conversation_id),
            self._assistants.for_channel(inbound.channel_id),
        )
        if not claimed:
            return None
        started = datetime.fromtimestamp(received_at, UTC) if received_at is not None else now
        try:
            return await self._answer(inbound, key, started, conversation, assistant)
        except BaseException:
            await self._ledger.release(key)
            raise

    async def _answer(
        self, inbound: Message, key: str, started: datetime,
        conversation: Conversation | None, assistant: Assistant | None,
    ) -> Outcome:  # fmt: skip
        if (
            conversation is None
            or conversation.handled_by is not HandledBy.BOT
            or conversation.status is ConversationStatus.RESOLVED
        ):
            return await self._finish(key, "", inbound.conversation_id, Outcome.SKIPPED)
        if assistant is None or assistant.id is None:
            return await self._handoff(
                key,
                None,
                conversation,
                HandoffReason.ERROR,
                "No enabled assistant answers on this channel any more.",
            )
        text = (inbound.text or "").strip()
        now = self._clock.now()
        period = closed_period(assistant.business_hours, now)
        if period is not None:
            return await self._out_of_hours(key, assistant, conversation, period)
        hit = keyword_hit(assistant.handoff.keywords, text)
        if hit is not None:
            return await self._handoff(
                key,
                assistant,
                conversation,
                HandoffReason.KEYWORD,
                f"The customer wrote '{hit}': {text}",
            )
        turns = assistant.handoff.after_turns
        if turns is not None and await self._ledger.replies_in(conversation.id or "") >= turns:
            return await self._handoff(
                key,
                assistant,
                conversation,
                HandoffReason.AFTER_TURNS,
                f"{turns} replies by the assistant. Last message: {text}",
            )
        if assistant.max_tokens_per_day is not None:
            midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            used = await self._ledger.tokens_since(assistant.id, midnight)
            if used >= assistant.max_tokens_per_day:
                return await self._handoff(
                    key,
                    assistant,
                    conversation,
                    HandoffReason.BUDGET,
                    f"Daily token budget used. Last message: {text}",
                )
        decision = await self._decide(key, assistant, conversation, inbound, text)
        if isinstance(decision, Outcome):
            return decision
        if decision.is_handoff:
            return await self._handoff(
                key, assistant, conversation, decision.reason or HandoffReason.ERROR,
                decision.summary or f"Last message: {text}", decision,
            )  # fmt: skip
        return await self._reply(key, assistant, conversation, inbound, decision, started)

    async def _decide(
        self, key: str, assistant: Assistant, conversation: Conversation, inbound: Message,
        text: str,
    ) -> Decision | Outcome:  # fmt: skip
        assert conversation.id is not None  # noqa: S101 - stored
        page = await self._messages.page(
            conversation.id, cursor=None, limit=self._policy.context_messages
        )
        typing = asyncio.create_task(self._typing(inbound))
        try:
            return await self._brain.decide(assistant, history_of(page.items), text)
        except (QuotaExceeded, PlanLimitReached):  # the tenant's quota, or its plan's
            return await self._handoff(
                key,
                assistant,
                conversation,
                HandoffReason.BUDGET,
                f"The AI token quota is used up. Last message: {text}",
            )
        except (UnknownModel, ProviderRejected) as exc:
            log.warning("assistant %s cannot answer: %s", assistant.id, exc)
            return await self._handoff(
                key,
                assistant,
                conversation,
                HandoffReason.ERROR,
                f"The assistant could not answer. Last message: {text}",
            )
        finally:
            await typing

    async def _typing(self, inbound: Message) -> None:
        try:
            assert inbound.id is not None  # noqa: S101 - stored
            await self._receipts.execute(inbound.id, typing=True)
        except Exception:  # a receipt is not worth failing the reply for
            log.info("typing indicator for %s not shown", inbound.id, exc_info=True)

    async def _reply(
        self, key: str, assistant: Assistant, conversation: Conversation, inbound: Message,
        decision: Decision, started: datetime,
    ) -> Outcome:  # fmt: skip
        assert conversation.id is not None  # noqa: S101 - stored
        assert assistant.id is not None  # noqa: S101 - stored
        if await self._taken_over(conversation.id, inbound):
            return await self._finish(key, assistant.id, conversation.id, Outcome.SUPPRESSED,
                                      decision=decision)  # fmt: skip
        try:
            queued = await self._queue.execute(
                OutboundDraft(conversation_id=conversation.id,
                              content=TextContent(body=decision.text or "")),
                MessageSender(type=SenderType.BOT, id=assistant.id),
                idempotency_key=f"assistant-{reply_key(inbound.id or '')}",
            )  # fmt: skip
        except PlanLimitReached as refused:  # the month's messages: humans take it, told why
            return await self._handoff(
                key, assistant, conversation, HandoffReason.BUDGET,
                f"{refused.detail} Last message: {inbound.text or ''}",
            )  # fmt: skip
        now = self._clock.now()
        latency = max(0, int((now - started).total_seconds() * 1000))
        _, outcome = await asyncio.gather(
            self._alarms.schedule(
                conversation.id, assistant.id, FollowUpStage.FOLLOW_UP,
                now + timedelta(minutes=self._policy.follow_up_idle_minutes),
            ),
            self._finish(
                key, assistant.id, conversation.id, Outcome.REPLIED, decision=decision,
                reply_message_id=queued.message.id, latency_ms=latency,
            ),
        )  # fmt: skip
        return outcome

    async def _taken_over(self, conversation_id: str, inbound: Message) -> bool:
        """Whether humans have the conversation now, or an agent wrote since `inbound`."""
        current, latest = await asyncio.gather(
            self._conversations.get(conversation_id),
            self._messages.page(conversation_id, cursor=None, limit=TAKEOVER_WINDOW),
        )
        if (
            current is None
            or current.handled_by is not HandledBy.BOT
            or current.status is ConversationStatus.RESOLVED
            or current.assignee_id is not None
        ):
            return True
        return any(
            m.sender.type is SenderType.AGENT and m.created_at >= inbound.created_at
            for m in latest.items
        )

    async def _out_of_hours(
        self, key: str, assistant: Assistant, conversation: Conversation, period: str
    ) -> Outcome:
        assert conversation.id is not None  # noqa: S101 - stored
        assert assistant.id is not None  # noqa: S101 - stored
        message_id: str | None = None
        text = (assistant.out_of_hours_message or "").strip()
        mark = OUT_OF_HOURS_PERIOD + period
        if text and await self._marks.claim(conversation.id, mark, self._mark_seconds(period)):
            try:
                queued = await self._queue.execute(
                    OutboundDraft(conversation_id=conversation.id,
                                  content=TextContent(body=text[:4096])),
                    MessageSender(type=SenderType.BOT, id=assistant.id),
                )  # fmt: skip
            except BaseException:
                await self._marks.release(conversation.id, mark)
                raise
            message_id = queued.message.id
        return await self._finish(key, assistant.id, conversation.id, Outcome.OUT_OF_HOURS,
                                  reply_message_id=message_id)  # fmt: skip

    def _mark_seconds(self, period: str) -> int:
        if period == NEVER_OPENS:
            return NEVER_OPENS_MARK_SECONDS
        until = (datetime.fromisoformat(period) - self._clock.now()).total_seconds()
        return int(max(until, 0)) + MARK_GRACE_SECONDS

    async def _handoff(
        self, key: str, assistant: Assistant | None, conversation: Conversation,
        reason: HandoffReason, summary: str, decision: Decision | None = None,
    ) -> Outcome:  # fmt: skip
        assert conversation.id is not None  # noqa: S101 - stored
        with contextlib.suppress(ConversationResolved):  # resolved meanwhile
            await self._hand_over.execute(
                None, conversation.id, reason=reason.value,
                summary=f"Handed over by the assistant ({reason.value}): {summary}",
            )  # fmt: skip
        await self._alarms.cancel(conversation.id)
        assistant_id = assistant.id if assistant and assistant.id else ""
        return await self._finish(key, assistant_id, conversation.id, Outcome.HANDED_OFF,
                                  reason=reason, decision=decision)  # fmt: skip

    async def _finish(
        self, key: str, assistant_id: str, conversation_id: str, outcome: Outcome, *,
        reason: HandoffReason | None = None, decision: Decision | None = None,
        reply_message_id: str | None = None, latency_ms: int | None = None,
    ) -> Outcome:  # fmt: skip
        await self._ledger.finish(
            RunRecord(
                key=key, assistant_id=assistant_id, conversation_id=conversation_id,
                outcome=outcome, reason=reason, reply_message_id=reply_message_id,
                language=decision.language if decision else None,
                input_tokens=decision.usage.input_tokens if decision else 0,
                output_tokens=decision.usage.output_tokens if decision else 0,
                latency_ms=latency_ms, finished_at=self._clock.now(),
            )
        )  # fmt: skip
        return outcome
