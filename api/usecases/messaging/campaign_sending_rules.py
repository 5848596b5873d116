"""The campaign send engine's rules: its policy, what one recipient row becomes on the
wire (the template with the row's rendered variables, or the plain message with its
placeholders filled), and what a provider's answer becomes on the row.

Provider answers, per row (never more than one request per row and run):
- accepted: `sent` with the message id;
- a throughput or per-user rate limit (130429, 131056; 4 and 80007 too), or a refusal
  that surely was not sent (a 5xx error answer, no connection): back to `pending` not
  before a backoff (the provider's wait at least, doubling with the attempts), `failed`
  with the code after `max_attempts`;
- no answer to a request that left (a read timeout, a connection lost): `failed`
  `outcome_unknown` at once (WhatsApp sends are not idempotent: a retry could send twice);
- 131049 (per-user marketing limit): `failed`, not retried, and the contact is marked so
  that no campaign sends to them for 24 hours (`skipped` `recent_marketing_limit`);
- 131050 (the customer stopped marketing messages): `failed`, and the contact is opted
  out (source `provider`);
- 190 (token refused): `failed`, the channel becomes `token_invalid` and the campaign is
  paused (resume it once the channel has a working token);
- any other refusal: `failed` with the provider's code and title.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from api.domain.messaging.campaigns import (
    MAX_TEXT,
    CampaignRecipient,
    PlainMessage,
    RecipientOutcome,
    RecipientResult,
    render,
)
from api.domain.messaging.content import (
    InteractiveContent,
    MediaContent,
    MediaKind,
    OutboundContent,
    OutboundMessage,
    Recipient,
    TemplateContent,
    TextContent,
)
from api.domain.messaging.errors import (
    ChannelOutcomeUnknown,
    ChannelPermanentFailure,
    ChannelRateLimited,
    ChannelTokenInvalid,
    ChannelTransientFailure,
    TemplateValuesInvalid,
)
from api.domain.messaging.outbound import RateLimit, number_bucket
from api.domain.messaging.template_parameters import send_components
from api.domain.messaging.templates import Template

MARKETING_LIMITED = 131049  # the per-user marketing limit: no resend within 24 hours
THROUGHPUT = 130429
OUTCOME_UNKNOWN = "outcome_unknown"
MISSING_VARIABLE = "missing_variable"
MESSAGE_TOO_LONG = "message_too_long"
TRACKER_PREFIX = "campaign:"


@dataclass(frozen=True)
class CampaignSendPolicy:
    slice_seconds: float = 60.0
    claim_seconds: float = 120.0  # also the run's lease; above the provider's timeout
    batch_size: int = 200
    max_in_flight: int = 200
    burst_seconds: float = 0.1
    max_attempts: int = 5
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 300.0
    heartbeat_seconds: float = 2.0
    marketing_limit_seconds: float = 24 * 3600.0
    report_base_url: str = ""  # {PUBLIC_BASE_URL}{API prefix}: the results email's link


def rate_limits(
    campaign_id: str, campaign_rate: int, channel_type: str, account_id: str, tier: int,
    burst_seconds: float,
) -> list[RateLimit]:  # fmt: skip
    """The number's bucket (the inbox's: its tier, a second's burst) and the campaign's own
    (min(campaign, tier), a burst of `burst_seconds` of it)."""
    rate = min(campaign_rate, tier)
    return [
        RateLimit(bucket=number_bucket(channel_type, account_id), rate=tier, capacity=tier),
        RateLimit(bucket=f"campaign:{campaign_id}", rate=rate,
                  capacity=max(1, math.ceil(rate * burst_seconds))),
    ]  # fmt: skip


def tracker_of(recipient_id: str) -> str:
    """What the message carries back in its status webhooks (`biz_opaque_callback_data`)."""
    return TRACKER_PREFIX + recipient_id


def recipient_of_tracker(tracker: str | None) -> str | None:
    if tracker and tracker.startswith(TRACKER_PREFIX):
        return tracker.removeprefix(TRACKER_PREFIX) or None
    return None


class MissingVariable(ValueError):
    """A row has no value for one of the template's variables."""


class MessageTooLong(ValueError):
    """A plain message, its placeholders filled, is over the provider's limit."""


def template_components(template: Template, values: dict[str, str]) -> list[dict[str, Any]]:
    """Graph's `components` for one recipient (`send_components`): each template variable
    filled from the row's values by its key, else by its position ("1", "2"... in the
    template's order); `MissingVariable` when one has no value."""
    filled: dict[str, str] = {}
    for position, variable in enumerate(template.variables, start=1):
        value = values.get(variable.key) or values.get(str(position))
        if not value:
            raise MissingVariable(variable.key)
        filled[variable.key] = value
    try:
        return send_components(template, filled)
    except TemplateValuesInvalid as exc:
        raise MissingVariable(str(exc)) from None


def outbound_of(row: CampaignRecipient, template: Template) -> OutboundMessage:
    """The message for one row; `MissingVariable` when a value is missing."""
    address = row.address
    phone = address.phone or (f"+{address.wa_id}" if address.wa_id else None)
    content = TemplateContent(
        name=template.name,
        language=template.language,
        components=template_components(template, row.variables),
    )
    return OutboundMessage(
        recipient=Recipient(phone=phone, user_id=None if phone else address.bsuid),
        content=content,
        tracker=tracker_of(row.id or ""),
    )


def plain_outbound_of(
    row: CampaignRecipient, message: PlainMessage, media: bytes | None, link: str | None
) -> OutboundMessage:
    """A plain message for one row (to its user id): the text with the row's values (a
    file's caption when it has a file, sent as `media` bytes or by `link`);
    `MissingVariable` when a value is missing, `MessageTooLong` past the limits."""
    try:
        text = render(message.text, row.variables)
    except KeyError as missing:
        raise MissingVariable(str(missing.args[0])) from None
    content: OutboundContent
    try:
        if message.file_id is not None:
            content = MediaContent(
                media_kind=MediaKind(message.media_kind or MediaKind.DOCUMENT.value),
                data=media, link=None if media is not None else link,
                caption=text or None, filename=message.filename,
            )  # fmt: skip
        elif message.button is not None:
            if len(text) > MAX_TEXT:
                raise MessageTooLong(f"{len(text)} characters with the values filled in")
            content = InteractiveContent(interactive={
                "type": "cta_url", "body": {"text": text},
                "action": {"name": "cta_url", "parameters": {
                    "display_text": message.button.text, "url": message.button.url}},
            })  # fmt: skip
        else:
            content = TextContent(body=text)
    except ValidationError:
        raise MessageTooLong(f"{len(text)} characters with the values filled in") from None
    return OutboundMessage(
        recipient=Recipient(user_id=row.address.user_id),
        content=content,
        tracker=tracker_of(row.id or ""),
    )


def backoff_delay(attempts: int, base: float, cap: float, at_least: float = 0.0) -> float:
    """`base` doubled per attempt already made, capped, and never below `at_least`."""
    grown: float = base * 2.0 ** max(0, attempts - 1)
    return max(at_least, min(cap, grown))


def result_of_failure(
    row: CampaignRecipient, claim: str, exc: Exception, now: datetime, policy: CampaignSendPolicy
) -> RecipientResult:
    """What a failed call makes of the row (see the module's rules)."""
    code = getattr(exc, "provider_code", None)
    title = (getattr(exc, "provider_title", None) or str(exc))[:300]
    base = {"recipient_id": row.id or "", "claim": claim, "at": now}
    if isinstance(exc, ChannelOutcomeUnknown) or not isinstance(
        exc, ChannelTransientFailure | ChannelPermanentFailure
    ):
        return RecipientResult(
            **base, outcome=RecipientOutcome.FAILED, error_code=OUTCOME_UNKNOWN,
            error_title=title,
        )  # fmt: skip
    error_code = str(code) if code is not None else exc.code
    if isinstance(exc, ChannelTransientFailure) and row.attempts < policy.max_attempts:
        wait = exc.retry_after if isinstance(exc, ChannelRateLimited) else 0.0
        delay = backoff_delay(row.attempts, policy.backoff_seconds,
                              policy.backoff_max_seconds, wait)  # fmt: skip
        return RecipientResult(
            **base, outcome=RecipientOutcome.RETRY, error_code=error_code, error_title=title,
            not_before=now + timedelta(seconds=delay),
        )  # fmt: skip
    return RecipientResult(
        **base, outcome=RecipientOutcome.FAILED, error_code=error_code, error_title=title
    )


def stops_the_run(exc: Exception) -> bool:
    """A refusal that concerns every row: the channel's token stopped working."""
    return isinstance(exc, ChannelTokenInvalid)


def holds_the_number(exc: Exception) -> float:
    """Seconds the whole run should wait before claiming more (the number's throughput
    limit, 130429, or the app's call limits): 0 for per-row failures."""
    if isinstance(exc, ChannelRateLimited) and exc.provider_code != 131056:
        return float(exc.retry_after)
    return 0.0
