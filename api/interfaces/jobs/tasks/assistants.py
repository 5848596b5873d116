"""AI assistant tasks: answer one inbound message of a bot conversation; follow up (and
then resolve) idle bot conversations."""

from __future__ import annotations

import punq

from api.domain.messaging.bots import BOT_REPLY_JOB
from api.interfaces.jobs.base import parley_task
from api.usecases.assistants.follow_up import FOLLOW_UP_JOB, FollowUpIdleConversations
from api.usecases.assistants.reply import AnswerInboundMessage


@parley_task(BOT_REPLY_JOB)
async def answer_inbound(
    container: punq.Container, message_id: str, received_at: float | None = None
) -> str | None:
    """The assistant's one answer to an inbound message (see `AnswerInboundMessage`);
    provider outages are retried with backoff."""
    outcome = await container.resolve(AnswerInboundMessage).execute(
        message_id, received_at=received_at
    )
    return outcome.value if outcome else None


@parley_task(FOLLOW_UP_JOB)
async def follow_up(container: punq.Container) -> int:
    """Periodic (beat): idle bot conversations get their follow-up, then are resolved, in
    every tenant (see `FollowUpIdleConversations`)."""
    return await container.resolve(FollowUpIdleConversations).execute()
