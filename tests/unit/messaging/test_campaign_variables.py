"""A campaign's variables mapped onto its template's, and a contact's row rendered from
them (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from api.domain.messaging.campaigns import (
    Audience,
    Campaign,
    CampaignRecipient,
    CampaignVariable,
    PlainMessage,
    RecipientAddress,
    RecipientStatus,
    SkipReason,
    TemplateNotUsable,
    TemplateRef,
    TemplateVariablesUnmapped,
    UrlButton,
    VariableSource,
    placeholders,
    render,
)
from api.domain.messaging.contacts import Contact, SegmentFilter
from api.domain.messaging.content import InteractiveContent, MediaContent, TextContent
from api.domain.messaging.templates import Template, template_variables
from api.usecases.messaging.campaign_runs import audience_filters, recipient_row
from api.usecases.messaging.campaign_sending_rules import (
    MessageTooLong,
    MissingVariable,
    plain_outbound_of,
)
from api.usecases.messaging.manage_campaigns import (
    VariableInput,
    mapped_variables,
    template_usable,
)

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
COMPONENTS: list[dict[str, Any]] = [
    {"type": "HEADER", "format": "TEXT", "text": "Our {{1}} is on!"},
    {"type": "BODY", "text": "Hi {{1}}, use {{2}}."},
    {"type": "BUTTONS", "buttons": [
        {"type": "QUICK_REPLY", "text": "Stop"},
        {"type": "URL", "text": "Shop", "url": "https://example.com/{{1}}"},
    ]},
]  # fmt: skip


def template(status: str = "APPROVED") -> Template:
    return Template(
        channel_id="c", waba_id="w", name="promo", language="en", status=status,
        components=COMPONENTS, variables=template_variables(COMPONENTS),
        created_at=NOW, updated_at=NOW,
    )  # fmt: skip


def keys() -> list[str]:
    return [v.key for v in template().variables]


def given(*values: tuple[str | None, str, str]) -> list[VariableInput]:
    return [
        VariableInput(key=key, source=VariableSource(source), value=value)
        for key, source, value in values
    ]


def test_keys_name_the_component_and_position() -> None:
    assert [v.key for v in template().variables] == [
        "header.1", "body.1", "body.2", "button.1.1",
    ]  # fmt: skip
    assert template_usable(template())
    assert not template_usable(template("PENDING"))


def test_without_keys_the_order_is_the_templates() -> None:
    mapped = mapped_variables(keys(), given(
        (None, "constant", "Sale"), (None, "field", "name"), (None, "attribute", "code"),
        (None, "constant", "spring"),
    ))  # fmt: skip
    assert [(v.key, v.value) for v in mapped] == [
        ("header.1", "Sale"), ("body.1", "name"), ("body.2", "code"), ("button.1.1", "spring"),
    ]  # fmt: skip


def test_with_keys_every_variable_is_filled_once() -> None:
    values = given(("body.2", "constant", "X"), ("button.1.1", "constant", "s"),
                   ("header.1", "constant", "H"), ("body.1", "field", "name"))  # fmt: skip
    assert [v.key for v in mapped_variables(keys(), values)] == [
        "body.2", "button.1.1", "header.1", "body.1",
    ]  # fmt: skip
    with pytest.raises(TemplateVariablesUnmapped, match=r"unmapped: header\.1"):
        mapped_variables(keys(), values[:2] + values[3:])
    with pytest.raises(TemplateVariablesUnmapped, match=r"not in the content: body\.3"):
        mapped_variables(keys(), [*values, *given(("body.3", "constant", "x"))])
    with pytest.raises(TemplateVariablesUnmapped):
        mapped_variables(keys(), given((None, "constant", "x")))
    assert TemplateNotUsable.code == "template_not_usable"


def campaign(*variables: CampaignVariable) -> Campaign:
    return Campaign(
        id="k", name="n", channel_id="c", template=TemplateRef(name="promo", language="en"),
        variables=list(variables), audience=Audience(all=True), created_at=NOW, updated_at=NOW,
    )  # fmt: skip


def contact(**fields: object) -> Contact:
    values: dict[str, object] = {"id": "p", "created_at": NOW, "updated_at": NOW, **fields}
    return Contact.model_validate(values)


def test_a_row_renders_the_contacts_values_with_fallbacks() -> None:
    plan = campaign(
        CampaignVariable(key="body.1", source=VariableSource.FIELD, value="name",
                         fallback="friend"),
        CampaignVariable(key="body.2", source=VariableSource.ATTRIBUTE, value="code"),
        CampaignVariable(key="header.1", source=VariableSource.CONSTANT, value="Sale"),
    )  # fmt: skip
    row = recipient_row(plan, "r", contact(phone="+1415", attributes={"code": 7}), NOW)
    assert row.status is RecipientStatus.PENDING
    assert row.variables == {"body.1": "friend", "body.2": "7", "header.1": "Sale"}
    missing = recipient_row(plan, "r", contact(phone="+1415", name="Ann"), NOW)
    assert missing.status is RecipientStatus.FAILED
    assert missing.error_code == "missing_variable" and "body.2" in (missing.error_title or "")
    opted_out = recipient_row(plan, "r", contact(phone="+1415", opted_out=True), NOW)
    assert opted_out.skip_reason is SkipReason.OPTED_OUT
    nowhere = recipient_row(plan, "r", contact(email="a@example.com"), NOW)
    assert nowhere.skip_reason is SkipReason.NO_ADDRESS
    by_user_id = recipient_row(plan, "r", contact(bsuid="US.1", attributes={"code": "c"}), NOW)
    assert by_user_id.status is RecipientStatus.PENDING and by_user_id.address.bsuid == "US.1"


def test_the_audience_takes_opted_out_contacts_to_count_them() -> None:
    filters = audience_filters(
        Audience(tags_any=["vip"]),
        [SegmentFilter(tags_all=["a"]), SegmentFilter(language="pt", opted_out=True)],
    )
    assert [f.opted_out for f in filters] == [None, True, None]
    assert filters[2].tags_any == ["vip"]


def test_a_plain_message_row_goes_to_the_user_id_on_the_channel() -> None:
    plan = campaign(
        CampaignVariable(key="1", source=VariableSource.FIELD, value="name", fallback="you")
    ).model_copy(update={"template": None, "message": PlainMessage(text="Hi {{1}}")})
    reachable = recipient_row(plan, "r", contact(phone="+1415"), NOW, {"p": "5001"})
    assert reachable.status is RecipientStatus.PENDING
    assert reachable.address.user_id == "5001" and reachable.address.phone is None
    assert reachable.variables == {"1": "you"}
    elsewhere = recipient_row(plan, "r", contact(phone="+1415"), NOW, {})  # has a phone only
    assert elsewhere.skip_reason is SkipReason.NOT_ON_CHANNEL
    opted_out = recipient_row(plan, "r", contact(opted_out=True), NOW, {"p": "5001"})
    assert opted_out.skip_reason is SkipReason.OPTED_OUT


def test_placeholders_are_numbered_and_rendered() -> None:
    assert placeholders("{{2}} and {{ 1 }} and {{2}}") == ["1", "2"]
    assert placeholders("no {{name}} here") == []
    assert render("Hi {{1}}, {{ 2 }}!", {"1": "Ann", "2": "bye"}) == "Hi Ann, bye!"


def test_a_plain_message_on_the_wire() -> None:
    row = CampaignRecipient(
        id="row1", campaign_id="k", run_id="r", contact_id="p",
        address=RecipientAddress(user_id="5001"), variables={"1": "Ann"}, updated_at=NOW,
    )  # fmt: skip
    text = plain_outbound_of(row, PlainMessage(text="Hi {{1}}"), None, None)
    assert text.recipient.user_id == "5001" and text.tracker == "campaign:row1"
    assert isinstance(text.content, TextContent) and text.content.body == "Hi Ann"
    button = UrlButton(text="Shop", url="https://shop.example.com")
    interactive = plain_outbound_of(row, PlainMessage(text="Hi", button=button), None, None)
    assert isinstance(interactive.content, InteractiveContent)
    assert interactive.content.interactive["action"]["parameters"]["url"] == button.url
    photo = PlainMessage(text="For {{1}}", file_id="f1", media_kind="image", filename="a.png")
    media = plain_outbound_of(row, photo, b"png", None).content
    assert isinstance(media, MediaContent) and media.caption == "For Ann" and media.data == b"png"
    with pytest.raises(MissingVariable):
        plain_outbound_of(row, PlainMessage(text="Hi {{2}}"), None, None)
    long = row.model_copy(update={"variables": {"1": "x" * 4000}})
    with pytest.raises(MessageTooLong):
        plain_outbound_of(long, PlainMessage(text="{{1}} {{1}}"), None, None)
    with pytest.raises(MessageTooLong):  # a caption past 1024
        plain_outbound_of(long, photo, b"png", None)
