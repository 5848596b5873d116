"""Asking a model: the user's message saved first, the reply streamed, then saved.

`Ask.start` checks everything that can be checked before a byte is streamed (permission,
input, model, conversation owner, quota), saves the user's message, then starts the
generation in a task of its own and waits a short grace period for its first delta. A
provider that is down or lacks the model fails within that period: the user's message
(and a conversation created for it) is taken back and the caller gets a problem
response to retry. Otherwise the caller gets an `Answer`, whose `events()` give the
stream: `Started`, `Token`s, then `Finished` or `Failed`, with `KeepAlive`s while the
model is quiet.

The generation task, not the response, owns the upstream call and the saving of the
reply. The response going away (client disconnect) or a stop request from any replica
cancels it; it then closes the upstream request and saves what was produced as a
`partial` reply. Usage (reported by the provider, else estimated) is added to the
tenant's ledger for every saved reply, partial ones included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from api.common.clock import utcnow
from api.domain.ai.entities import AiConversation, AiMessage
from api.domain.ai.errors import ProviderUnavailable
from api.domain.ai.ports import (
    AiConversationRepository,
    AiMessageRepository,
    ChatModels,
    StopSignals,
    UsageLedger,
)
from api.domain.ai.values import (
    ChatDelta,
    FinishReason,
    ModelInfo,
    PromptMessage,
    Speaker,
    TokenUsage,
    estimate_tokens,
)
from api.domain.errors import FieldProblem, InvalidInput, NotFound, ParleyError
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.domain.tenancy import current_tenant
from api.usecases.ai.models import AiPolicy, ModelAccess, TokenBudget, utc_day
from api.usecases.kernel.authority import require_permission

log = logging.getLogger(__name__)

TITLE_CHARS = 80
SLICE_SECONDS = 0.0005  # the longest a generation works through buffered deltas at a go
CONVERSATION_NOT_FOUND = "No such conversation."


def stop_key(conversation_id: str) -> str:
    return f"{current_tenant()}:{conversation_id}"


def stored_id(value: str | None) -> str:
    """The id of something read from or written to the database (which always has one)."""
    if value is None:
        raise RuntimeError("a stored entity has no id")
    return value


def title_of(message: str) -> str:
    line = " ".join(message.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


def last_turns(history: Sequence[AiMessage], turns: int) -> list[AiMessage]:
    """The newest message (the question) and the `turns` exchanges before it; never a
    reply without the question it answered."""
    kept = list(history[-(turns * 2 + 1) :])
    while len(kept) > 1 and kept[0].role is not Speaker.USER:
        kept.pop(0)
    return kept


def fit_context(
    history: Sequence[AiMessage], *, max_tokens: int, system_prompt: str | None
) -> list[PromptMessage]:
    """The newest messages whose estimated tokens fit `max_tokens` (the newest, the
    question, always goes), oldest first, after the system prompt if any."""
    kept: list[PromptMessage] = []
    budget = max_tokens - (estimate_tokens(system_prompt) if system_prompt else 0)
    for message in reversed(history):
        if not message.content:
            continue
        cost = estimate_tokens(message.content)
        if kept and cost > budget:
            break
        budget -= cost
        kept.append(PromptMessage(message.role, message.content))
    kept.reverse()
    while len(kept) > 1 and kept[0].role is not Speaker.USER:
        kept.pop(0)  # a reply whose question did not fit
    if system_prompt:
        kept.insert(0, PromptMessage(Speaker.SYSTEM, system_prompt))
    return kept


# Stream events ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    conversation_id: str
    message_id: str  # the assistant's reply (saved when it ends)
    user_message_id: str
    model: ModelInfo


@dataclass(frozen=True)
class Token:
    content: str


@dataclass(frozen=True)
class Finished:
    message_id: str | None  # None: the model said nothing, so nothing was saved
    usage: TokenUsage
    partial: bool
    finish_reason: FinishReason


@dataclass(frozen=True)
class Failed:
    error: ParleyError
    message_id: str | None  # the partial reply saved before the failure, if any
    before_first_token: bool


@dataclass(frozen=True)
class KeepAlive:
    pass


StreamEvent = Started | Token | Finished | Failed | KeepAlive
_Item = Token | Finished | Failed


@dataclass(frozen=True)
class Question:
    message: str
    model: str | None = None
    conversation_id: str | None = None


class _Watchdog:
    """Cancels the current task when the model is silent too long: `first` seconds before
    its first delta, `between` seconds between two. One timer, re-armed only when it
    fires (a timeout context per delta cost more than the rest of the loop)."""

    def __init__(self, first: float, between: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        self.last = self.loop.time()
        self.limit = first
        self.between = between
        self.fired = False
        self._timer = self.loop.call_at(self.last + first, self._check)

    def saw_delta(self, content: bool) -> float:
        now = self.loop.time()
        if not content and self.limit != self.between:
            return now  # an empty opening delta (OpenAI's role chunk) is not the first token
        self.last = now
        if self.limit != self.between:  # the first token: from now on the shorter wait
            self.limit = self.between
            self._timer.cancel()
            self._timer = self.loop.call_at(now + self.between, self._check)
        return now

    def _check(self) -> None:
        silent = self.loop.time() - self.last
        if silent >= self.limit and self.task is not None:
            self.fired = True
            self.task.cancel()
        else:
            self._timer = self.loop.call_at(self.last + self.limit, self._check)

    def close(self) -> None:
        self._timer.cancel()


class _Generation:
    """One upstream call in a task: deltas go to `queue`; the end saves the reply."""

    def __init__(
        self,
        *,
        ask: Ask,
        principal: Principal,
        conversation: AiConversation,
        model: ModelInfo,
        prompt: list[PromptMessage],
        message_id: str,
    ) -> None:
        self.queue: asyncio.Queue[_Item] = asyncio.Queue()
        self.message_id = message_id
        self._ask = ask
        self._principal = principal
        self._conversation = conversation
        self._model = model
        self._prompt = prompt
        self._reason: FinishReason | None = None
        self._ending = False
        self.task: asyncio.Task[None] | None = None

    def start(self, on_done: Callable[[], None]) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name="ai-generation")
        self.task.add_done_callback(lambda _: on_done())

    def cancel(self, reason: FinishReason) -> None:
        # Once the model's stream has ended, the reply is being saved: let that finish.
        if self.task is not None and not self.task.done() and not self._ending:
            self._reason = self._reason or reason
            self.task.cancel()

    async def _run(self) -> None:
        parts: list[str] = []
        usage: TokenUsage | None = None
        reason = FinishReason.STOP
        error: ParleyError | None = None
        policy = self._ask.policy
        stream: AsyncGenerator[ChatDelta, None] | None = None
        watchdog = _Watchdog(policy.first_token_timeout_seconds, policy.token_timeout_seconds)
        yield_at = watchdog.last + SLICE_SECONDS
        try:
            stream = self._ask.models.stream(self._model, self._prompt)
            async for delta in stream:
                now = watchdog.saw_delta(bool(delta.content))
                if now >= yield_at:
                    # Deltas already buffered are parsed without a pause: a fast model
                    # would hold the loop for its whole burst. Give others a turn.
                    await asyncio.sleep(0)
                    yield_at = now + SLICE_SECONDS
                if delta.content:
                    parts.append(delta.content)
                    self.queue.put_nowait(Token(delta.content))
                if delta.usage is not None:
                    usage = delta.usage
                if delta.finish_reason is not None:
                    reason = delta.finish_reason
        except asyncio.CancelledError:
            if self.task is not None:
                self.task.uncancel()
            if watchdog.fired:
                reason = FinishReason.ERROR
                error = ProviderUnavailable(
                    "AI provider", detail=f"The model sent nothing for {watchdog.limit:g} seconds."
                )
            else:
                reason = self._reason or FinishReason.DISCONNECTED
        except ParleyError as exc:
            error, reason = exc, FinishReason.ERROR
        except Exception:
            log.exception("the AI provider's stream failed")
            error, reason = ProviderUnavailable("AI provider"), FinishReason.ERROR
        finally:
            self._ending = True
            watchdog.close()
            if stream is not None:
                with contextlib.suppress(Exception):
                    await stream.aclose()
        await self._end("".join(parts), usage, reason, error)

    async def _end(
        self,
        content: str,
        usage: TokenUsage | None,
        reason: FinishReason,
        error: ParleyError | None,
    ) -> None:
        saved_id: str | None = None
        if content:
            try:
                usage = usage or TokenUsage(
                    input_tokens=sum(estimate_tokens(m.content) for m in self._prompt),
                    output_tokens=estimate_tokens(content),
                    estimated=True,
                )
                saved_id = await self._ask.save_reply(
                    self._principal, self._conversation, self._model, self.message_id,
                    content=content, usage=usage, reason=reason,
                )  # fmt: skip
            except Exception as exc:
                log.exception("could not save an AI reply")
                error = error or (
                    exc if isinstance(exc, ParleyError) else ParleyError("The reply was not saved.")
                )
        if error is not None:
            self.queue.put_nowait(Failed(error, saved_id, before_first_token=not content))
            return
        self.queue.put_nowait(
            Finished(
                message_id=saved_id,
                usage=usage or TokenUsage(),
                partial=reason.is_partial,
                finish_reason=reason,
            )
        )


class Answer:
    """A started answer: `started`, then `events()` until `Finished` or `Failed`."""

    def __init__(
        self, started: Started, generation: _Generation, first: _Item | None, keepalive: float
    ) -> None:
        self.started = started
        self._generation = generation
        self._first = first
        self._keepalive = keepalive

    def cancel(self) -> None:
        """The client went away: stop the upstream call; the partial reply is saved."""
        self._generation.cancel(FinishReason.DISCONNECTED)

    async def events(self) -> AsyncIterator[list[StreamEvent]]:
        """Events in batches: whatever is ready is given at once (one write per batch)."""
        queue = self._generation.queue
        batch: list[StreamEvent] = [self.started]
        pending = self._first
        try:
            while True:
                if pending is None:
                    if batch:
                        yield batch
                        batch = []
                    try:
                        async with asyncio.timeout(self._keepalive):
                            pending = await queue.get()
                    except TimeoutError:
                        batch.append(KeepAlive())
                        continue
                batch.append(pending)
                if isinstance(pending, Finished | Failed):
                    break
                pending = queue.get_nowait() if not queue.empty() else None
            yield batch
        finally:
            self.cancel()


class Ask:
    """`POST /ai/ask` (see the module's notes)."""

    def __init__(
        self,
        models: ChatModels,
        access: ModelAccess,
        budget: TokenBudget,
        conversations: AiConversationRepository,
        messages: AiMessageRepository,
        ledger: UsageLedger,
        stops: StopSignals,
        policy: AiPolicy,
    ) -> None:
        self.models = models
        self.policy = policy
        self._access = access
        self._budget = budget
        self._conversations = conversations
        self._messages = messages
        self._ledger = ledger
        self._stops = stops

    async def start(self, principal: Principal, question: Question) -> Answer:
        require_permission(principal, Permission.AI_USE)
        text = question.message.strip()
        if not text:
            raise InvalidInput(
                "The message is empty.", [FieldProblem(("body", "message"), "must not be blank")]
            )
        if len(question.message) > self.policy.max_message_chars:
            raise InvalidInput(
                f"The message is longer than {self.policy.max_message_chars} characters.",
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
        await self._budget.check(tenant)

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
                await asyncio.gather(
                    self._conversations.create(conversation), self._messages.add(user_message)
                )
                history = [user_message]
            else:
                _, exists, earlier = await asyncio.gather(
                    self._messages.add(user_message),
                    self._conversations.touch(conversation_id, messages=1, at=now),
                    self._messages.latest(conversation_id, self.policy.context_max_turns * 2 + 1),
                )
                if not exists:  # deleted meanwhile
                    raise NotFound(CONVERSATION_NOT_FOUND)
                history = [m for m in earlier if m.id != user_message_id] + [user_message]
        except BaseException:
            with contextlib.suppress(Exception):
                await self._take_back(
                    principal, conversation_id, user_message_id, whole=created, was=conversation
                )
            raise
        prompt = fit_context(
            last_turns(history, self.policy.context_max_turns),
            max_tokens=self.policy.context_max_tokens,
            system_prompt=self.policy.system_prompt,
        )
        generation = _Generation(
            ask=self, principal=principal, conversation=conversation, model=model,
            prompt=prompt, message_id=self._messages.new_id(),
        )  # fmt: skip
        release = self._stops.watch(
            stop_key(conversation_id), lambda: generation.cancel(FinishReason.STOPPED)
        )
        generation.start(on_done=release)
        try:
            first = await self._first_item(generation)
        except BaseException:
            generation.cancel(FinishReason.DISCONNECTED)
            raise
        if isinstance(first, Failed) and first.before_first_token:
            await self._take_back(
                principal, conversation_id, user_message_id, whole=created, was=conversation
            )
            raise first.error
        started = Started(conversation_id, generation.message_id, user_message_id, model)
        return Answer(started, generation, first, self.policy.keepalive_seconds)

    async def _first_item(self, generation: _Generation) -> _Item | None:
        try:
            async with asyncio.timeout(self.policy.start_grace_seconds):
                return await generation.queue.get()
        except TimeoutError:
            return None  # a slow model: stream, with keep-alives, and report errors as events

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

    async def save_reply(
        self,
        principal: Principal,
        conversation: AiConversation,
        model: ModelInfo,
        message_id: str,
        *,
        content: str,
        usage: TokenUsage,
        reason: FinishReason,
    ) -> str:
        """Save the assistant's reply and count its usage (also when partial)."""
        now = utcnow()
        conversation_id = stored_id(conversation.id)
        reply = AiMessage(
            id=message_id, conversation_id=conversation_id, user_id=principal.user_id,
            role=Speaker.ASSISTANT, content=content, model=model.id, provider=model.provider,
            partial=reason.is_partial, finish_reason=reason, usage=usage, created_at=now,
        )  # fmt: skip
        _, _, exists = await asyncio.gather(
            self._ledger.add(day=utc_day(now), user_id=principal.user_id, model=model, usage=usage),
            self._messages.add(reply),
            self._conversations.touch(conversation_id, messages=1, at=now, model=model),
        )
        if not exists:
            # Deleted meanwhile (DELETE or clear-history): the reply must not outlive it.
            await self._messages.delete(message_id)
            raise NotFound(CONVERSATION_NOT_FOUND)
        return message_id


class StopGeneration:
    """Stop the running generation of one of the caller's conversations, wherever it runs."""

    def __init__(self, conversations: AiConversationRepository, stops: StopSignals) -> None:
        self._conversations = conversations
        self._stops = stops

    async def execute(self, principal: Principal, conversation_id: str) -> None:
        require_permission(principal, Permission.AI_USE)
        if await self._conversations.get(principal.user_id, conversation_id) is None:
            raise NotFound(CONVERSATION_NOT_FOUND)
        await self._stops.request(stop_key(conversation_id))
