"""A generation: one upstream call to a model, in a task of its own, and its watchdog.

The generation task, not the response, owns the upstream call and the saving of the
reply. The response going away (client disconnect) or a stop request from any replica
cancels it; it then closes the upstream request and saves what was produced as a
`partial` reply. Usage (reported by the provider, else estimated) is added to the
tenant's ledger for every saved reply, partial ones included, and the tokens the call
held of the tenant's daily quota are settled however it ends (see `token_budget`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable

from api.domain.ai.entities import AiConversation
from api.domain.ai.errors import ProviderUnavailable
from api.domain.ai.ports import ChatModels
from api.domain.ai.values import (
    ChatDelta,
    FinishReason,
    ModelInfo,
    PromptMessage,
    TokenUsage,
    estimate_tokens,
)
from api.domain.errors import ParleyError
from api.domain.identity.auth import Principal
from api.usecases.ai.events import Failed, Finished, Items, Token
from api.usecases.ai.policy import AiPolicy
from api.usecases.ai.reply_writer import ReplyWriter
from api.usecases.ai.token_budget import Hold, TokenBudget, prompt_tokens

log = logging.getLogger(__name__)

SLICE_SECONDS = 0.0005  # the longest a generation works through buffered deltas at a go


class Slices:
    """When a generation should give the loop a turn: after `SLICE_SECONDS` of deltas
    without one. A delta that had to wait for the network already gave the loop its turn
    (the loop ran a callback scheduled at the slice's start), so a stream whose deltas
    arrive one by one never pauses on top of it (it did once per delta: a task step, and
    the loop's round, per token); a burst of buffered deltas parsed without a pause does."""

    def __init__(self, loop: asyncio.AbstractEventLoop, now: float) -> None:
        self._loop = loop
        self._turned = False
        self.ends = now + SLICE_SECONDS
        loop.call_soon(self._turn)

    def _turn(self) -> None:
        self._turned = True

    async def next(self, now: float) -> None:
        """The slice is over (`now` past `ends`): pause unless the loop turned meanwhile,
        and start the next one. It starts when the pause ends: from `now`, the others'
        turns counted in it, it was over at the next delta (a pause per delta)."""
        if not self._turned:
            await asyncio.sleep(0)
            now = self._loop.time()
        self._turned = False
        self.ends = now + SLICE_SECONDS
        self._loop.call_soon(self._turn)


class Watchdog:
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


class Generation:
    """One upstream call in a task: deltas go to `items`; the end saves the reply."""

    def __init__(
        self,
        *,
        models: ChatModels,
        policy: AiPolicy,
        replies: ReplyWriter,
        principal: Principal,
        conversation: AiConversation,
        model: ModelInfo,
        prompt: list[PromptMessage],
        message_id: str,
        budget: TokenBudget,
        hold: Hold,
    ) -> None:
        self.items = Items()
        self.message_id = message_id
        self._models = models
        self._policy = policy
        self._replies = replies
        self._principal = principal
        self._conversation = conversation
        self._model = model
        self._prompt = prompt
        self._reason: FinishReason | None = None
        self._ending = False
        self._budget = budget
        self._hold = hold
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
        policy = self._policy
        stream: AsyncGenerator[ChatDelta, None] | None = None
        watchdog = Watchdog(policy.first_token_timeout_seconds, policy.token_timeout_seconds)
        slices = Slices(watchdog.loop, watchdog.last)
        put = self.items.put
        try:
            stream = self._models.stream(
                self._model, self._prompt, max_output_tokens=self._hold.max_output_tokens
            )
            async for delta in stream:
                now = watchdog.saw_delta(bool(delta.content))
                if now >= slices.ends:
                    # Deltas already buffered are parsed without a pause: a fast model
                    # would hold the loop for its whole burst. Give others a turn.
                    await slices.next(now)
                if delta.content:
                    parts.append(delta.content)
                    put(Token(delta.content))
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
        if not content:
            await self._settle(None)
        else:
            usage = usage or TokenUsage(
                input_tokens=prompt_tokens(self._prompt),
                output_tokens=estimate_tokens(content),
                estimated=True,
            )
            # The reply, its usage and the quota hold's settlement are written together.
            try:
                saved_id = await self._replies.save(
                    self._principal, self._conversation, self._model, self.message_id,
                    content=content, usage=usage, reason=reason, day=self._hold.day,
                    settle=self._budget.settlement(self._hold, usage),
                )  # fmt: skip
            except Exception as saved:
                log.error("could not save an AI reply", exc_info=saved)
                error = error or (
                    saved
                    if isinstance(saved, ParleyError)
                    else ParleyError("The reply was not saved.")
                )
            await self._after_settle(usage)
        if error is not None:
            self.items.put(Failed(error, saved_id, before_first_token=not content))
            return
        self.items.put(
            Finished(
                message_id=saved_id,
                usage=usage or TokenUsage(),
                partial=reason.is_partial,
                finish_reason=reason,
            )
        )

    async def _settle(self, usage: TokenUsage | None) -> None:
        """Settle the quota hold (a failure is logged: the hold then lapses by itself)."""
        try:
            await self._budget.settle(self._hold, usage)
        except Exception:
            log.exception("could not settle an AI quota hold")

    async def _after_settle(self, usage: TokenUsage) -> None:
        """The hold was settled with the reply: the plan's warnings (a failure is logged)."""
        try:
            await self._budget.settled(self._hold, usage)
        except Exception:
            log.exception("could not check the plan's AI token limit")
