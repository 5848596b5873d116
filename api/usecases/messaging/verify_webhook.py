"""The provider's webhook verification (Meta's `hub.challenge` handshake)."""

from __future__ import annotations

from api.domain.errors import Forbidden, NotFound
from api.domain.messaging.channels import ChannelType, is_meta_type
from api.domain.messaging.webhooks import ChannelLookup
from api.usecases.messaging.webhook_rules import WebhookPolicy, named_channel, tokens_match


class VerifyWebhook:
    """Answer Meta's subscription check: `hub.mode=subscribe` and the verify token of the
    channel (or, on the platform's webhook, `WHATSAPP_VERIFY_TOKEN`, or `META_VERIFY_TOKEN`
    for Messenger and Instagram) give back the
    challenge; a wrong token is `Forbidden`, an unknown channel `NotFound`. Public: the
    verify token is the credential."""

    def __init__(self, lookup: ChannelLookup, policy: WebhookPolicy) -> None:
        self._lookup = lookup
        self._policy = policy

    async def execute(
        self,
        type: ChannelType,
        channel_id: str | None,
        *,
        mode: str | None,
        token: str | None,
        challenge: str | None,
    ) -> str:
        if not is_meta_type(type):  # only Meta verifies subscriptions this way
            raise NotFound("There is no such webhook.")
        if channel_id is None:
            expected = self._policy.platform_app(type).verify_token
            if expected is None:
                raise NotFound("The platform's webhook is not configured.")
        else:
            expected = (await named_channel(self._lookup, type, channel_id)).verify_token
        if mode != "subscribe" or not tokens_match(expected, token):
            raise Forbidden("The verify token does not match.")
        return challenge or ""
