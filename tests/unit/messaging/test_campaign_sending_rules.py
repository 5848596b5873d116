"""The send engine's pure rules: a row's template on the wire, what each provider answer
makes of a row, and the two rate buckets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.domain.messaging.campaigns import CampaignRecipient, RecipientAddress, RecipientOutcome
from api.domain.messaging.errors import (
    ChannelOutcomeUnknown,
    ChannelPermanentFailure,
    ChannelRateLimited,
    ChannelTokenInvalid,
    ChannelTransientFailure,
)
from api.domain.messaging.templates import ParameterFormat, Template, TemplateVariable
from api.usecases.messaging.campaign_sending_rules import (
    CampaignSendPolicy,
    MissingVariable,
    holds_the_number,
    outbound_of,
    rate_limits,
    recipient_of_tracker,
    result_of_failure,
    stops_the_run,
    template_components,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
POLICY = CampaignSendPolicy(max_attempts=3, backoff_seconds=2, backoff_max_seconds=60)


def template(variables: list[TemplateVariable], named: bool = False) -> Template:
    return Template(
        channel_id="ch", waba_id="w", name="offer", language="en_US", status="APPROVED",
        parameter_format=ParameterFormat.NAMED if named else ParameterFormat.POSITIONAL,
        variables=variables, created_at=NOW, updated_at=NOW,
    )  # fmt: skip


def row(attempts: int = 1, **address: str) -> CampaignRecipient:
    return CampaignRecipient(
        id="r1", campaign_id="c", run_id="run", contact_id="k",
        address=RecipientAddress(**address or {"phone": "+16505551234"}),
        variables={"body.1": "Ann"}, attempts=attempts, updated_at=NOW,
    )  # fmt: skip


def test_components_by_key_or_position_header_body_and_url_buttons() -> None:
    variables = [
        TemplateVariable(component="header", index=1),
        TemplateVariable(component="body", index=1),
        TemplateVariable(component="body", index=2),
        TemplateVariable(component="button", index=1, button_index=0),
    ]
    values = {"header.1": "Sale", "body.1": "Ann", "3": "20%", "button.0.1": "code42"}
    # (body.2 by its position, 3, as the snapshot keys variables mapped without keys)
    assert template_components(template(variables), values) == [
        {"type": "header", "parameters": [{"type": "text", "text": "Sale"}]},
        {"type": "body", "parameters": [{"type": "text", "text": "Ann"},
                                        {"type": "text", "text": "20%"}]},
        {"type": "button", "sub_type": "url", "index": "0",
         "parameters": [{"type": "text", "text": "code42"}]},
    ]  # fmt: skip
    named = template([TemplateVariable(component="body", index="first_name")], named=True)
    assert template_components(named, {"body.first_name": "Ann"}) == [
        {"type": "body", "parameters": [{"type": "text", "text": "Ann",
                                         "parameter_name": "first_name"}]},
    ]  # fmt: skip
    with pytest.raises(MissingVariable):
        template_components(template(variables), {"body.1": "Ann"})


def test_the_message_goes_to_the_number_else_the_user_id_with_the_rows_tracker() -> None:
    one = template([TemplateVariable(component="body", index=1)])
    by_phone = outbound_of(row(), one)
    assert by_phone.recipient.phone == "+16505551234" and by_phone.tracker == "campaign:r1"
    assert outbound_of(row(wa_id="16505551234"), one).recipient.phone == "+16505551234"
    assert outbound_of(row(bsuid="US.123456"), one).recipient.user_id == "US.123456"
    assert recipient_of_tracker("campaign:r1") == "r1"
    assert recipient_of_tracker("65a0c0ffee") is None and recipient_of_tracker(None) is None


def test_what_each_answer_makes_of_a_row() -> None:
    throughput = ChannelRateLimited(1.0, "over", provider_code=130429)
    retry = result_of_failure(row(attempts=1), "c", throughput, NOW, POLICY)
    assert retry.outcome is RecipientOutcome.RETRY and retry.error_code == "130429"
    assert retry.not_before == NOW + timedelta(seconds=2)  # the backoff, above Meta's 1 s
    pair = ChannelRateLimited(6.0, "pair", provider_code=131056)
    assert result_of_failure(row(attempts=2), "c", pair, NOW, POLICY).not_before == (
        NOW + timedelta(seconds=6)
    )
    spent = result_of_failure(row(attempts=3), "c", throughput, NOW, POLICY)
    assert spent.outcome is RecipientOutcome.FAILED and spent.error_code == "130429"
    unknown = result_of_failure(row(), "c", ChannelOutcomeUnknown("timeout"), NOW, POLICY)
    assert unknown.outcome is RecipientOutcome.FAILED and unknown.error_code == "outcome_unknown"
    down = result_of_failure(row(), "c", ChannelTransientFailure("no route"), NOW, POLICY)
    assert down.outcome is RecipientOutcome.RETRY
    limited = ChannelPermanentFailure("limit", provider_code=131049, provider_title="Limit")
    failed = result_of_failure(row(), "c", limited, NOW, POLICY)
    assert (failed.outcome, failed.error_code, failed.error_title) == (
        RecipientOutcome.FAILED, "131049", "Limit",
    )  # fmt: skip
    bug = result_of_failure(row(), "c", ValueError("boom"), NOW, POLICY)
    assert bug.error_code == "outcome_unknown"  # it may have left: never sent again
    assert stops_the_run(ChannelTokenInvalid("190", provider_code=190))
    assert not stops_the_run(limited)
    assert holds_the_number(throughput) == 1.0 and holds_the_number(pair) == 0.0


def test_the_campaign_bucket_is_capped_by_the_numbers_tier() -> None:
    number, campaign = rate_limits("c1", 1000, "whatsapp", "106", 80, 0.1)
    assert (number.bucket, number.rate, number.capacity) == ("whatsapp:106", 80, 80)
    assert (campaign.bucket, campaign.rate, campaign.capacity) == ("campaign:c1", 80, 8)
    assert rate_limits("c1", 5, "whatsapp", "106", 80, 0.1)[1].capacity == 1
