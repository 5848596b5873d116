"""Connecting a Telegram bot: check its token, store it, register Parley's webhook."""

from __future__ import annotations

from api.domain.identity.auth import Principal
from api.domain.messaging.channels import (
    Channel,
    ChannelProfile,
    ChannelSecrets,
    ChannelType,
    SecretName,
    TelegramSettings,
)
from api.domain.messaging.errors import ChannelCheckFailed
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission
from api.usecases.kernel.clock import stored_now
from api.usecases.messaging.connect_channel import ChannelConnector
from api.usecases.messaging.rules import (
    ChannelView,
    new_secret_token,
    new_verify_token,
)


class ConnectTelegramChannel(ChannelConnector):
    """Connect a Telegram bot (`channels:manage`).

    Rules: the token is checked with the Bot API (`getMe`) BEFORE anything is saved; a
    refusal or an unreachable Bot API is 422 `channel_check_failed` (the token masked).
    The bot (its id, the token's own) connected to another channel that is not
    disconnected, in any tenant, is 409 (the unique account index decides). Then Parley
    registers its webhook (`setWebhook`: the channel's webhook URL and a random
    `secret_token`, stored encrypted, that every update must carry); should Telegram
    refuse it, the channel is disconnected again and the answer is 422. `api_base_url`
    defaults to `TELEGRAM_API_BASE_URL` (another must be allowed by
    `TELEGRAM_ALLOWED_API_BASE_URLS`, else 422 `api_base_url_not_allowed`); the rate to
    `TELEGRAM_MESSAGES_PER_SECOND`. Audited: `channel.connected`.
    """

    async def execute(
        self,
        principal: Principal,
        *,
        name: str,
        bot_token: str,
        api_base_url: str | None = None,
        messages_per_second: int | None = None,
    ) -> ChannelView:
        require_permission(principal, Permission.CHANNELS_MANAGE)
        secrets = (
            ChannelSecrets()
            .with_secret(SecretName.BOT_TOKEN, self._box.encrypt(bot_token))
            .with_secret(SecretName.WEBHOOK_SECRET_TOKEN, self._box.encrypt(new_secret_token()))
        )
        now = stored_now()
        channel = Channel(
            type=ChannelType.TELEGRAM,
            name=name,
            settings=TelegramSettings(
                bot_id="",  # getMe says
                api_base_url=self._policy.telegram_api_base_url_for(api_base_url),
            ),
            secrets=secrets,
            verify_token=new_verify_token(),  # unused: Telegram has no verification step
            messages_per_second=messages_per_second or self._policy.telegram_messages_per_second,
            created_at=now,
            updated_at=now,
        )
        return await self._connected(principal, channel, plaintexts=(bot_token,), accept=_named_bot)


def _named_bot(profile: ChannelProfile) -> None:
    if not profile.bot_id:
        raise ChannelCheckFailed("The Bot API did not name the bot.")
