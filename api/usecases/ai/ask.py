"""Asking a model: the user's message saved first, the reply streamed, then saved.

`Ask.start` checks everything that can be checked before a byte is streamed (permission,
input, model, conversation owner), saves the user's message, holds the tokens the call
may cost of the tenant's daily quota (see `token_budget`; refused: the message is taken
back), then starts the generation in a task of its own and waits a short grace period
for its first delta. A provider that is down or lacks the model fails within that
period: the user's message (and a conversation created for it) is taken back and the
caller gets a problem response to retry. Otherwise the caller gets an `Answer`, whose
`events()` give the stream: `Started`, `Token`s, then `Finished` or `Failed`, with
`KeepAlive`s while the model is quiet. The generation, not the response, saves the
reply and settles the hold (see `generation`).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from api.common.clock import utcnow
from api.domain.ai.entities import AiConversation, AiMessage
from api.domain.ai.ports import (
    AiConversationRepository,
    AiMessageRepository,
    AiTurns,
    ChatModels,
    StopSignals,
)
from api.domain.ai.values import FinishReason, Speaker
from api.domain.errors import FieldProblem, InvalidInput, NotFound
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.ai.answer import Answer
from api.usecases.ai.events import Failed, QueueItem, Started
from api.usecases.ai.generation import Generation
from api.usecases.ai.model_access import ModelAccess
from api.usecases.ai.policy import AiPolicy
from api.usecases.ai.reply_writer import ReplyWriter
from api.usecases.ai.rules import (
    CONVERSATION_NOT_FOUND,
    fit_context,
    last_turns,
    stop_key,
    stored_id,
    title_of,
)
from api.usecases.ai.token_budget import TokenBudget
from api.usecases.kernel.authority import require_permission


@dataclass(frozen=True)
class Question:
    message: str
    model: str | None = None
    conversation_id: str | None = None


class Ask:
    """`POST /ai/ask` (see the module's notes)."""

    def __init__(
        self,
        models: ChatModels,
        access: ModelAccess,
        budget: TokenBudget,
        conversations: AiConversationRepository,
        messages: AiMessageRepository,
        turns: AiTurns,
        replies: ReplyWriter,
        stops: StopSignals,
        policy: AiPolicy,
    ) -> None:
        self._models = models
        self._policy = policy
        self._access = access
        self._budget = budget
        self._conversations = conversations
        self._messages = messages
        self._turns = turns
        self._replies = replies
        self._stops = stops

    async def start(self, principal: Principal, question: Question) -> Answer:
        require_permission(principal, Permission.AI_USE)
        text = question.message.strip()
        if not text:
            raise InvalidInput(
                "The message is empty.", [FieldProblem(("body", "message"), "must not be blank")]
            )
        if len(question.message) > self._policy.max_message_chars:
            raise InvalidInput(
                f"The message is longer than {self._policy.max_message_chars} characters.",
                [FieldProblem(("body", "message"), "too long")],
            )
        conversation: AiConversation | None = None
        if question.conversation_id is not None:
            conversation = await self._conversations.get(
                principal.user_id, question.conversation_id
            )
            if conversation is None:
                raise NotFound(CONVERSATION_NOT_FOUND)
        model, tenant = await self._access.resolve(question.model, conversation)

        # Ids are drawn here so that the writes before the call go out together.
        now = utcnow()
        created = conversation is None
        conversation_id = stored_id(conversation.id) if conversation else self._messages.new_id()
        user_message = AiMessage(
            id=self._messages.new_id(), conversation_id=conversation_id,
            user_id=principal.user_id, role=Speaker.USER,
            content=question.message, model=model.id, provider=model.provider, created_at=now,
        )  # fmt: skip
        user_message_id = stored_id(user_message.id)
        try:
            if conversation is None:
                conversation = AiConversation(
                    id=conversation_id, user_id=principal.user_id, title=title_of(text),
                    model=model.id, provider=model.provider, message_count=1, created_at=now,
                    updated_at=now,
                )  # fmt: skip
                await self._turns.begin(user_message, new=conversation)
                history = [user_message]
            else:
                exists, earlier = await asyncio.gather(
                    self._turns.begin(user_message, new=None),
                    self._messages.latest(conversation_id, self._policy.context_max_turns * 2 + 1),
                )
                if not exists:  # deleted meanwhile
                    raise NotFound(CONVERSATION_NOT_FOUND)
                history = [m for m in earlier if m.id != user_message_id] + [user_message]
            prompt = fit_context(
                last_turns(history, self._policy.context_max_turns),
                max_tokens=self._policy.context_max_tokens,
                system_prompt=self._policy.system_prompt,
            )
            hold = await self._budget.hold(tenant, prompt)  # over quota: taken back
        except BaseException:
            with contextlib.suppress(Exception):
                await self._take_back(
                    principal, conversation_id, user_message_id, whole=created, was=conversation
                )
            raise
        try:
            generation = Generation(
                models=self._models, policy=self._policy, replies=self._replies,
                principal=principal, conversation=conversation, model=model,
                prompt=prompt, message_id=self._messages.new_id(),
                budget=self._budget, hold=hold,
            )  # fmt: skip
            release = self._stops.watch(
                stop_key(conversation_id), lambda: generation.cancel(FinishReason.STOPPED)
            )
        except BaseException:
            await self._budget.release(hold)
            raise
        generation.start(on_done=release)  # from here on, the generation settles the hold
        try:
            first = await self._first_item(generation)
        except BaseException:
            generation.cancel(FinishReason.DISCONNECTED)
            raise
        failed = first[0] if first else None
        if isinstance(failed, Failed) and failed.before_first_token:
            await self._take_back(
                principal, conversation_id, user_message_id, whole=created, was=conversation
            )
            raise failed.error
        started = Started(conversation_id, generation.message_id, user_message_id, model)
        return Answer(started, generation, first, self._policy.keepalive_seconds)

    async def _first_item(self, generation: Generation) -> list[QueueItem]:
        """What the generation gave within the grace period (nothing: a slow model, which
        is streamed with keep-alives, its errors reported as events)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._policy.start_grace_seconds):
                await generation.items.wait()
        return generation.items.take()

    async def _take_back(
        self,
        principal: Principal,
        conversation_id: str,
        message_id: str,
        *,
        whole: bool,
        was: AiConversation | None,
    ) -> None:
        """Undo a question that never reached a model, so that a retry does not repeat it
        (with the conversation, when it was created for it)."""
        await self._messages.delete(message_id)
        if whole:
            await self._conversations.delete(principal.user_id, conversation_id)
        else:
            at = was.updated_at if was is not None else utcnow()
            await self._conversations.touch(conversation_id, messages=-1, at=at)
