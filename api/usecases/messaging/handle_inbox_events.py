"""The inbox's handler of inbound events, in the shape the webhook dispatcher calls
(`event_types`, `handle(channel, event)`): a received message goes to
`ReceiveInboundMessage` (then, for a button press the provider waits to hear about,
`AnswerButtonPress`), a delivery status to `ApplyMessageStatus`, a marketing preference
(the customer stopped or resumed marketing messages) to `ApplyMarketingPreference`, an
echo of the business's own send to `RecordEchoedMessage`; other
events are not the inbox's and are left alone."""

from __future__ import annotations

from api.domain.messaging.channels import Channel
from api.domain.messaging.events import (
    InboundEvent,
    MarketingPreference,
    MessageEchoed,
    MessageReceived,
    StatusUpdated,
)
from api.usecases.messaging.answer_button_press import AnswerButtonPress
from api.usecases.messaging.apply_marketing_preference import ApplyMarketingPreference
from api.usecases.messaging.apply_message_status import ApplyMessageStatus
from api.usecases.messaging.receive_inbound_message import ReceiveInboundMessage
from api.usecases.messaging.record_echo import RecordEchoedMessage


class HandleInboxEvents:
    event_types = frozenset(
        {"message_received", "status_updated", "marketing_preference", "message_echoed"}
    )

    def __init__(
        self,
        receive: ReceiveInboundMessage,
        apply: ApplyMessageStatus,
        preference: ApplyMarketingPreference,
        echo: RecordEchoedMessage,
        answer: AnswerButtonPress,
    ) -> None:
        self._answer = answer
        self._echo = echo
        self._receive = receive
        self._apply = apply
        self._preference = preference

    async def handle(self, channel: Channel, event: InboundEvent) -> None:
        if isinstance(event, MessageReceived):
            stored = await self._receive.execute(event, channel)
            if stored is not None and event.press_id:
                await self._answer.execute(channel, event.press_id)
        elif isinstance(event, StatusUpdated):
            await self._apply.execute(event, channel)
        elif isinstance(event, MarketingPreference):
            await self._preference.execute(event, channel)
        elif isinstance(event, MessageEchoed):
            await self._echo.execute(event, channel)
