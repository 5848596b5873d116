"""Bots in the inbox: a conversation on a channel an AI assistant answers starts handled
by the bot (`handled_by: "bot"`, status `pending` for agents) and each new customer
message there queues `BOT_REPLY_JOB` (the assistants context answers it). Which channels
have a bot is the assistants' business: the inbox asks through `ChannelBots`."""

from __future__ import annotations

from typing import Protocol

from api.domain.errors import Conflict

BOT_REPLY_JOB = "assistants.reply"  # arguments: message_id (the inbound message)


class ChannelBots(Protocol):
    async def answers(self, channel_id: str) -> bool:
        """Whether an enabled assistant of the current tenant answers on the channel."""
        ...


class NoAssistant(Conflict):
    """A conversation handed back to the bot on a channel no enabled assistant answers."""

    code = "no_assistant"
    title = "No assistant on this channel"
