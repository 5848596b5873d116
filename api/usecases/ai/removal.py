"""What deleting AI conversations takes (one or all of a user's): the shared base."""

from __future__ import annotations

from api.domain.ai.ports import AiConversationRepository, AiMessageRepository, StopSignals
from api.usecases.kernel.auditor import Auditor


class AiConversationRemoval:
    """What deleting conversations takes: stop their answers, delete, audit."""

    def __init__(
        self,
        conversations: AiConversationRepository,
        messages: AiMessageRepository,
        stops: StopSignals,
        auditor: Auditor,
    ) -> None:
        self._conversations = conversations
        self._messages = messages
        self._stops = stops
        self._auditor = auditor
